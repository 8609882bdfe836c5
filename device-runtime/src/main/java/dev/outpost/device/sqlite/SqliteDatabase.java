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
import java.util.HashMap;
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

    private SqliteDatabase(Connection connection) {
        this.connection = connection;
    }

    /** Opens (creating when missing) and migrates the database; a home from a newer runtime is refused (exit 5). */
    public static SqliteDatabase open(Path file) {
        try {
            Properties options = new Properties();
            // No "select last_insert_rowid()" after every insert: nothing here reads generated keys.
            options.setProperty("jdbc.get_generated_keys", "false");
            // The driver itself rather than DriverManager, which first scans the class path for every other driver.
            Connection c = JDBC.createConnection("jdbc:sqlite:" + file.toAbsolutePath(), options);
            try (Statement s = c.createStatement()) {
                s.execute("pragma journal_mode = wal");
                s.execute("pragma synchronous = full");
                s.execute("pragma busy_timeout = 5000");
                s.execute("pragma foreign_keys = off");
                // SQLite's page cache (negative: KiB), 2 MB by default. `outpost model` starts with 256 KiB (the
                // launcher sets it): an install reads and writes a few small records, and every cached page is
                // resident.
                s.execute("pragma cache_size = " + Integer.getInteger("outpost.sqlite.cache", -2000));
            }
            c.setAutoCommit(false);
            SqliteDatabase db = new SqliteDatabase(c);
            Migrations.run(db, file);
            return db;
        } catch (SQLException e) {
            throw storage("cannot open the local database " + file + ": " + e.getMessage(), e);
        }
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
        return new DeviceException(ExitCode.STORAGE, message, cause);
    }
}
