package dev.outpost.device.sqlite;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.store.Transactions;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.sqlite.JDBC;

/**
 * The device's SQLite file (WAL, synchronous=FULL): one connection, its transactions, statements prepared once, and the
 * numbered migrations ({@link Migrations}) run when it opens. The port adapters of this package share it; a write and
 * its change-log entries commit together or not at all.
 */
public final class SqliteDatabase implements Transactions, AutoCloseable {
    private final Connection connection;
    /** Statements are prepared once per connection: preparing is a large part of a small write's cost. */
    private final Map<String, PreparedStatement> statements = new HashMap<>();

    private int depth;

    /**
     * Settings ({@code meta}) this connection read or wrote, kept while no other connection (another {@code outpost}
     * process on the home) has committed, as {@code PRAGMA data_version} tells at the start of each transaction, and
     * dropped when a transaction rolls back. Used inside transactions only: a local write reads four settings, and
     * each read is a statement.
     */
    private final Map<String, Optional<String>> metaCache = new HashMap<>();

    private long dataVersion = Long.MIN_VALUE;

    private final Path file;
    /** The key the file is encrypted with (SQLite3 Multiple Ciphers), null when it is not encrypted. */
    private String key;

    private SqliteDatabase(Connection connection, Path file, String key) {
        this.connection = connection;
        this.file = file;
        this.key = key;
    }

    /** Opens (creating when missing) and migrates an unencrypted database; a newer runtime's is refused (exit 5). */
    public static SqliteDatabase open(Path file) {
        return open(file, null);
    }

    /** SQLite's page cache, negative: KiB ({@code open}). */
    private static final int CACHE_KIB = Integer.getInteger("outpost.sqlite.cache", -2000);

    /**
     * The page cache of a bulk transaction: it appends to empty tables and builds indexes once (SQLite's sorter spills
     * to its temporary file past the cache), so a larger cache buys nothing; 2 MB of it were 3 MB of a snapshot
     * install's peak RSS (65 MB against 68, the same 3.2-3.3 s for 1M rows).
     */
    private static final int BULK_CACHE_KIB = -256;

    /**
     * Opens (creating when missing) and migrates the database encrypted with {@code key} (null: not encrypted). A file
     * the key does not open (a wrong key, no key for an encrypted file, a key for a plain one) is exit code 5 and is
     * left as it is.
     */
    public static SqliteDatabase open(Path file, String key) {
        try {
            Properties options = new Properties();
            // No "select last_insert_rowid()" after every insert: nothing here reads generated keys.
            options.setProperty("jdbc.get_generated_keys", "false");
            Connection c = connect(file, key, options);
            try (Statement s = c.createStatement()) {
                s.execute("pragma journal_mode = wal");
                s.execute("pragma synchronous = full");
                s.execute("pragma busy_timeout = 5000");
                s.execute("pragma foreign_keys = off");
                // SQLite's page cache (negative: KiB), 2 MB by default. `outpost model` starts with 256 KiB (the
                // launcher sets it): an install reads and writes a few small records, and every cached page is
                // resident.
                s.execute("pragma cache_size = " + CACHE_KIB);
                String pagesMax = System.getenv(PAGES_MAX_ENV);
                if (pagesMax != null && !pagesMax.isBlank()) {
                    s.execute("pragma max_page_count = " + Long.parseLong(pagesMax.strip()));
                }
            }
            c.setAutoCommit(false);
            SqliteDatabase db = new SqliteDatabase(c, file, key);
            Migrations.run(db, file);
            return db;
        } catch (SQLException e) {
            if (notADatabase(e)) {
                throw unreadable(file, key, e);
            }
            throw storage("cannot open the local database " + file + ": " + e.getMessage(), e);
        }
    }

    /** Whether {@code key} (null: none) opens the file, which must exist. */
    public static boolean opensWith(Path file, String key) {
        try (Connection c = JDBC.createConnection("jdbc:sqlite:" + file.toAbsolutePath(), new Properties())) {
            applyKey(c, key);
            if (key == null) {
                try (Statement s = c.createStatement()) {
                    s.executeQuery("select count(*) from sqlite_schema").close();
                }
            }
            return true;
        } catch (SQLException e) {
            if (notADatabase(e)) {
                return false;
            }
            throw storage("cannot open the local database " + file + ": " + e.getMessage(), e);
        }
    }

    /** A connection to {@code file} with {@code key} applied, checked to read: a wrong key fails here. */
    private static Connection connect(Path file, String key, Properties options) throws SQLException {
        // The driver itself rather than DriverManager, which first scans the class path for every other driver.
        Connection c = JDBC.createConnection("jdbc:sqlite:" + file.toAbsolutePath(), options);
        try {
            applyKey(c, key);
            return c;
        } catch (SQLException e) {
            c.close();
            if (notADatabase(e)) {
                throw unreadable(file, key, e);
            }
            throw e;
        } catch (RuntimeException e) { // a SQLite that cannot encrypt: the connection is not kept either
            c.close();
            throw e;
        }
    }

    private static DeviceException unreadable(Path file, String key, SQLException e) {
        return storage(
                "cannot open the local database " + file + ": "
                        + (key == null
                                ? "it is encrypted (or damaged) and no key is configured for it"
                                : "the key does not open it (a wrong key, or a damaged or unencrypted file)"),
                e);
    }

    /**
     * Keys the connection and reads the file's first page, which checks the key. A SQLite without ciphers would ignore
     * "pragma key" and write the file in the clear, so the read also asks for SQLite3 Multiple Ciphers' own function:
     * without it, nothing is opened.
     */
    private static void applyKey(Connection c, String key) throws SQLException {
        if (key == null) {
            return;
        }
        try (Statement s = c.createStatement()) {
            s.execute("pragma key = '" + key.replace("'", "''") + "'");
            try {
                s.executeQuery("select sqlite3mc_config('cipher'), count(*) from sqlite_schema")
                        .close();
            } catch (SQLException e) {
                if (e.getMessage() != null && e.getMessage().contains("no such function")) {
                    throw storage(
                            "this runtime's SQLite cannot encrypt (it is not SQLite3 Multiple Ciphers): the"
                                    + " database is left unopened",
                            e);
                }
                throw e;
            }
        }
    }

    /** SQLITE_NOTADB: the file is not a database as this connection reads it. */
    private static boolean notADatabase(SQLException e) {
        return (e.getErrorCode() & 0xff) == 26;
    }

    /** A second, read-only connection to the same file with the same key (queries run on it). */
    public Connection openReadOnly() throws SQLException {
        return connect(file, key, readOnly());
    }

    private static Properties readOnly() {
        org.sqlite.SQLiteConfig config = new org.sqlite.SQLiteConfig();
        config.setReadOnly(true);
        return config.toProperties();
    }

    /**
     * Encrypts the file with {@code newKey}, re-encrypts it with another, or (null) decrypts it, in one transaction:
     * a crash leaves it under the old key or the new one. Needs the database to itself (SQLite3 Multiple Ciphers
     * changes keys in rollback-journal mode only, and leaving WAL mode needs every other connection closed): when
     * another process has it open, nothing changes and the reason is exit code 5.
     */
    public synchronized void rekey(String newKey) {
        try {
            connection.commit();
            connection.setAutoCommit(true);
            try (Statement s = connection.createStatement()) {
                s.execute("pragma wal_checkpoint(truncate)");
                String mode;
                try (ResultSet rs = s.executeQuery("pragma journal_mode = delete")) {
                    mode = rs.next() ? rs.getString(1) : "";
                }
                if (!mode.equalsIgnoreCase("delete")) {
                    throw storage(
                            "cannot change the key of " + file + ": another process has it open (stop 'outpost run')",
                            null);
                }
                try {
                    s.execute("pragma rekey = '" + (newKey == null ? "" : newKey.replace("'", "''")) + "'");
                    key = newKey;
                } finally {
                    s.execute("pragma journal_mode = wal");
                }
            } finally {
                connection.setAutoCommit(false);
            }
        } catch (SQLException e) {
            if ((e.getErrorCode() & 0xff) == 5) { // SQLITE_BUSY: another connection holds the file
                throw storage(
                        "cannot change the key of " + file + ": another process has it open (stop 'outpost run')", e);
            }
            throw storage("cannot change the key of " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * In rollback-journal mode when this connection has the file to itself: the new pages go to the file once, where
     * WAL mode writes each to the log and again at the checkpoint, and only the few pages that held data before are
     * journaled (1M snapshot rows: 1.5 s of SQLite instead of 2.5). Atomic and durable all the same (synchronous =
     * full); a crash leaves a hot journal that the next open rolls back. Back in WAL mode after. When another process
     * has the file open (it cannot leave WAL mode then), the transaction runs in WAL mode as any other.
     */
    @Override
    public synchronized <T> T inBulkTransaction(Work<T> work) {
        if (depth > 0) {
            return work.run();
        }
        boolean switched = journalMode("delete");
        cacheSize(Math.max(BULK_CACHE_KIB, CACHE_KIB));
        try {
            return inTransaction(work);
        } finally {
            cacheSize(CACHE_KIB);
            if (switched) {
                journalMode("wal");
            }
        }
    }

    private void cacheSize(int kib) {
        sql(() -> {
            try (Statement s = connection.createStatement()) {
                s.execute("pragma cache_size = " + kib);
            }
            return null;
        });
    }

    /** Sets the journal mode outside a transaction; false when it could not be set (the file is in use). */
    private boolean journalMode(String mode) {
        try {
            connection.commit();
            connection.setAutoCommit(true);
            try (Statement s = connection.createStatement()) {
                if (mode.equals("delete")) {
                    s.execute("pragma wal_checkpoint(truncate)");
                }
                try (ResultSet rs = s.executeQuery("pragma journal_mode = " + mode)) {
                    return rs.next() && rs.getString(1).equalsIgnoreCase(mode);
                }
            } finally {
                connection.setAutoCommit(false);
            }
        } catch (SQLException e) {
            int code = e.getErrorCode() & 0xff;
            // SQLITE_BUSY: another connection holds the file; SQLITE_LOCKED: a statement of this one still reads it
            // (the checkpoint cannot run). Either way the transaction runs in WAL mode, as any other.
            if (code == 5 || code == 6) {
                return false;
            }
            throw storage("local database error: " + e.getMessage(), e);
        }
    }

    /**
     * Runs {@code sql}, a statement whose only parameter is a {@link RowBatch} ({@code ... from outpost_rows(?)}), over
     * {@code batch}: a batch of rows saved with one bound value.
     */
    int saveBatch(String sql, RowBatch batch) {
        return sql(() -> {
            try (var ps = prepared(sql)) {
                ps.statement().setBytes(1, batch.toBytes());
                return ps.statement().executeUpdate();
            }
        });
    }

    /** A statement of this connection, prepared once; its parameters are cleared when the returned handle closes. */
    Cached prepared(String sql) throws SQLException {
        PreparedStatement ps = statements.get(sql);
        if (ps == null) {
            ps = connection.prepareStatement(sql);
            statements.put(sql, ps);
        }
        return new Cached(ps);
    }

    /** A cached statement; closing it only clears its parameters, the statement stays prepared. */
    record Cached(PreparedStatement statement) implements AutoCloseable {
        @Override
        public void close() throws SQLException {
            statement.clearParameters();
            statement.clearBatch();
        }
    }

    Connection connection() {
        return connection;
    }

    @FunctionalInterface
    interface Sql<T> {
        T run() throws SQLException;
    }

    /** Runs JDBC calls, turning their failure into a storage error (exit 5). */
    static <T> T sql(Sql<T> work) {
        try {
            return work.run();
        } catch (SQLException e) {
            throw storage("local database error: " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized <T> T inTransaction(Work<T> work) {
        if (depth > 0) {
            return work.run(); // part of the transaction already open on this thread
        }
        depth++;
        try {
            checkDataVersion();
            T result = work.run();
            connection.commit();
            return result;
        } catch (SQLException e) {
            rollback();
            throw storage("local database error: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            rollback();
            throw e;
        } finally {
            depth--;
        }
    }

    /** Drops the cached settings when another connection has committed since this one last looked. */
    private void checkDataVersion() throws SQLException {
        try (var ps = prepared("pragma data_version");
                ResultSet rs = ps.statement().executeQuery()) {
            long v = rs.next() ? rs.getLong(1) : Long.MIN_VALUE;
            if (v != dataVersion) {
                metaCache.clear();
                dataVersion = v;
            }
        }
    }

    /** A setting's cached value (empty: known absent), or null when not cached or outside a transaction. */
    Optional<String> cachedMeta(String key) {
        return depth > 0 ? metaCache.get(key) : null;
    }

    /** Caches a setting just read or written (outside a transaction: forgets it instead). */
    void cacheMeta(String key, Optional<String> value) {
        if (depth > 0) {
            metaCache.put(key, value);
        } else {
            metaCache.remove(key);
        }
    }

    private void rollback() {
        metaCache.clear();
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // the original failure is what the caller needs to see
        }
    }

    @Override
    public synchronized void close() {
        try {
            for (PreparedStatement ps : statements.values()) {
                ps.close();
            }
            connection.close();
        } catch (SQLException e) {
            throw storage("cannot close the local database", e);
        }
    }

    static DeviceException storage(String message, Exception cause) {
        if (cause instanceof SQLException e && (e.getErrorCode() & 0xff) == SQLITE_FULL) {
            return new DeviceException(
                    ExitCode.STORAGE,
                    "the device's storage is full: nothing of this was saved (everything saved before is kept);"
                            + " free some space and run it again",
                    cause);
        }
        if (cause instanceof SQLException e && (e.getErrorCode() & 0xff) == SQLITE_CORRUPT) {
            return new DeviceException(
                    ExitCode.STORAGE,
                    message + "; the database file is damaged: 'outpost doctor --repair' rebuilds it, keeping every"
                            + " unsent change",
                    cause);
        }
        return new DeviceException(ExitCode.STORAGE, message, cause);
    }

    /**
     * What SQLite's full check finds wrong in {@code file} (opened read-only with {@code key}), at most {@code max}
     * problems: empty when it is whole. A file that does not open as a database is one problem.
     */
    public static List<String> integrityProblems(Path file, String key, int max) {
        List<String> problems = new ArrayList<>();
        try (Connection c = connect(file, key, readOnly());
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("pragma integrity_check(" + max + ")")) {
            while (rs.next()) {
                // A row may hold several lines, under a heading that names the schema ("*** in database main ***").
                for (String line : rs.getString(1).split("\n")) {
                    line = line.strip();
                    if (!line.isEmpty() && !line.equals("ok") && !line.startsWith("*** in database")) {
                        problems.add(line);
                    }
                }
            }
        } catch (SQLException | DeviceException e) {
            problems.add(e.getMessage());
        }
        return problems;
    }

    /** SQLite's primary result code for a write that found no space (the disk, or the database's page limit). */
    private static final int SQLITE_FULL = 13;

    /** SQLite's primary result code for a damaged database file. */
    private static final int SQLITE_CORRUPT = 11;

    /**
     * Fault injection for tests (device-runtime/README.md, "Storage faults"): the database may not grow beyond this
     * many pages, so a write that needs more fails as on a full disk (SQLITE_FULL, the same error and the same
     * rollback). Unset in production.
     */
    static final String PAGES_MAX_ENV = "OUTPOST_FAULT_DB_PAGES_MAX";
}
