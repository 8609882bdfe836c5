package dev.outpost.device.store;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.sqlite.JDBC;

/**
 * The device's SQLite database (WAL, synchronous=FULL): row states, the change log, and small settings. Every
 * method runs inside the caller's transaction ({@link #inTransaction}); a write and its change-log entries commit
 * together or not at all.
 */
public final class LocalStore implements AutoCloseable {
    /**
     * The tables, created when missing. Every page a local write dirties is written to the WAL and synced, so the
     * change log keeps what a write touches to its own row: {@code seq} is a plain rowid (change-log rows are never
     * deleted, so a seq is never handed out twice; AUTOINCREMENT would update {@code sqlite_sequence} too), and there
     * is no index over every row's status. Pending changes are found by seq above {@link #SETTLED_THROUGH}, refused
     * ones through a partial index that a new, pending, row never enters. (Homes set up before this keep their
     * AUTOINCREMENT table and lose the old status index when they are opened; both behave the same.)
     */
    private static final String SCHEMA = """
            create table if not exists meta (key text primary key, value text not null);
            create table if not exists row_state (
                tbl text not null, id text not null, scope text not null, state text not null,
                deleted integer not null default 0, conflicts integer not null default 0,
                primary key (tbl, id)) without rowid;
            create index if not exists row_state_conflicts on row_state (conflicts) where conflicts > 0;
            create table if not exists change_log (
                seq integer primary key, change text not null,
                batch_id text, status text not null default 'pending', code text, message text);
            drop index if exists change_log_status;
            create index if not exists change_log_refused on change_log (seq) where status = 'refused';
            create table if not exists model_install (
                artifact text primary key, target_version integer not null, from_version integer,
                assignment blob not null, manifest blob not null, delta_index blob,
                slot text not null, phase text not null, step_done integer not null default 0,
                bytes_downloaded integer not null default 0, health_tries integer not null default 0);
            create table if not exists model_install_progress (
                artifact text primary key, phase text not null, step_done integer not null,
                bytes_downloaded integer not null, health_tries integer not null);
            create table if not exists model_report (id integer primary key autoincrement, body text not null);
            """;

    /**
     * The meta key holding a seq at or below which no change is pending (each one is sent or refused). It only ever
     * saves work: 0, or a missing key, is always true.
     */
    static final String SETTLED_THROUGH = "change_log_settled_through";

    private final Connection connection;
    /** Statements are prepared once per connection: preparing is a large part of a small write's cost. */
    private final java.util.Map<String, PreparedStatement> statements = new java.util.HashMap<>();

    private LocalStore(Connection connection) {
        this.connection = connection;
    }

    /** A cached statement; closing it only clears its parameters, the statement stays prepared. */
    private record Cached(PreparedStatement statement) implements AutoCloseable {
        @Override
        public void close() throws SQLException {
            statement.clearParameters();
            statement.clearBatch();
        }
    }

    private Cached prepared(String sql) throws SQLException {
        PreparedStatement ps = statements.get(sql);
        if (ps == null) {
            ps = connection.prepareStatement(sql);
            statements.put(sql, ps);
        }
        return new Cached(ps);
    }

    public static LocalStore open(Path file) {
        try {
            java.util.Properties options = new java.util.Properties();
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
                // resident. (Chosen while the install record still held the signed manifest: -1 MB at 2 GB then.)
                s.execute("pragma cache_size = " + Integer.getInteger("outpost.sqlite.cache", -2000));
                for (String ddl : SCHEMA.split(";")) {
                    if (!ddl.isBlank()) {
                        s.execute(ddl);
                    }
                }
            }
            c.setAutoCommit(false);
            c.commit();
            return new LocalStore(c);
        } catch (SQLException e) {
            throw storage("cannot open the local database " + file, e);
        }
    }

    @FunctionalInterface
    public interface Work<T> {
        T run() throws SQLException;
    }

    /** Runs {@code work} in one transaction: committed if it returns, rolled back if it throws. */
    public synchronized <T> T inTransaction(Work<T> work) {
        try {
            T result = work.run();
            connection.commit();
            return result;
        } catch (SQLException e) {
            rollback();
            throw storage("local database error: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            rollback();
            throw e;
        }
    }

    private void rollback() {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // the original failure is what the caller needs to see
        }
    }

    public Optional<String> getMeta(String key) throws SQLException {
        try (Cached ps = prepared("select value from meta where key = ?")) {
            ps.statement().setString(1, key);
            try (ResultSet rs = ps.statement().executeQuery()) {
                return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
            }
        }
    }

    public void putMeta(String key, String value) throws SQLException {
        try (Cached ps = prepared(
                "insert into meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value")) {
            ps.statement().setString(1, key);
            ps.statement().setString(2, value);
            ps.statement().executeUpdate();
        }
    }

    /**
     * An install in progress (one per artifact): what is being installed, into which slot, how far it got. The
     * phases are {@code downloading}, {@code activating} and {@code checking} (docs/artifacts.md has the diagram).
     */
    public record ModelInstall(
            String artifact,
            long targetVersion,
            Long fromVersion,
            byte[] assignment,
            byte[] manifest,
            byte[] deltaIndex,
            String slot,
            String phase,
            int stepDone,
            long bytesDownloaded,
            int healthTries) {
        /**
         * The same install without its signed documents, for the download loop, which saves only progress: a 1 GB
         * model's manifest is 580 KB, and the loop holds the decoded one already.
         */
        public ModelInstall withoutDocuments() {
            return new ModelInstall(
                    artifact,
                    targetVersion,
                    fromVersion,
                    null,
                    null,
                    null,
                    slot,
                    phase,
                    stepDone,
                    bytesDownloaded,
                    healthTries);
        }

        public ModelInstall withProgress(String newPhase, int steps, long bytes, int tries) {
            return new ModelInstall(
                    artifact,
                    targetVersion,
                    fromVersion,
                    assignment,
                    manifest,
                    deltaIndex,
                    slot,
                    newPhase,
                    steps,
                    bytes,
                    tries);
        }
    }

    public Optional<ModelInstall> getModelInstall(String artifact) throws SQLException {
        try (Cached ps = prepared("select i.target_version, i.from_version, i.assignment, i.manifest, i.delta_index,"
                + " i.slot, coalesce(p.phase, i.phase), coalesce(p.step_done, i.step_done),"
                + " coalesce(p.bytes_downloaded, i.bytes_downloaded), coalesce(p.health_tries, i.health_tries)"
                + " from model_install i left join model_install_progress p on p.artifact = i.artifact"
                + " where i.artifact = ?")) {
            ps.statement().setString(1, artifact);
            try (ResultSet rs = ps.statement().executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                long from = rs.getLong(2);
                Long fromVersion = rs.wasNull() ? null : from;
                return Optional.of(new ModelInstall(
                        artifact,
                        rs.getLong(1),
                        fromVersion,
                        rs.getBytes(3),
                        rs.getBytes(4),
                        rs.getBytes(5),
                        rs.getString(6),
                        rs.getString(7),
                        rs.getInt(8),
                        rs.getLong(9),
                        rs.getInt(10)));
            }
        }
    }

    public void saveModelInstall(ModelInstall m) throws SQLException {
        try (Cached ps = prepared("insert or replace into model_install (artifact, target_version, from_version,"
                + " assignment, manifest, delta_index, slot, phase, step_done, bytes_downloaded, health_tries)"
                + " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            PreparedStatement st = ps.statement();
            st.setString(1, m.artifact());
            st.setLong(2, m.targetVersion());
            if (m.fromVersion() == null) {
                st.setNull(3, java.sql.Types.INTEGER);
            } else {
                st.setLong(3, m.fromVersion());
            }
            st.setBytes(4, m.assignment());
            st.setBytes(5, m.manifest());
            st.setBytes(6, m.deltaIndex());
            st.setString(7, m.slot());
            st.setString(8, m.phase());
            st.setInt(9, m.stepDone());
            st.setLong(10, m.bytesDownloaded());
            st.setInt(11, m.healthTries());
            st.executeUpdate();
        }
        deleteModelInstallProgress(m.artifact()); // the row just written holds the progress
    }

    /**
     * Saves only {@code m}'s progress (phase, steps done, bytes, health tries) for an install whose record is saved
     * already. Progress is committed several times a second during a download; rewriting the record each time
     * copied its manifest, assignment and delta index (650 KB for a 1 GB model) through the driver and into SQLite's
     * log at every commit: write amplification on the device's flash.
     */
    public void saveModelInstallProgress(ModelInstall m) throws SQLException {
        try (Cached ps = prepared("insert or replace into model_install_progress"
                + " (artifact, phase, step_done, bytes_downloaded, health_tries) values (?, ?, ?, ?, ?)")) {
            PreparedStatement st = ps.statement();
            st.setString(1, m.artifact());
            st.setString(2, m.phase());
            st.setInt(3, m.stepDone());
            st.setLong(4, m.bytesDownloaded());
            st.setInt(5, m.healthTries());
            st.executeUpdate();
        }
    }

    private void deleteModelInstallProgress(String artifact) throws SQLException {
        try (Cached ps = prepared("delete from model_install_progress where artifact = ?")) {
            ps.statement().setString(1, artifact);
            ps.statement().executeUpdate();
        }
    }

    public void deleteModelInstall(String artifact) throws SQLException {
        try (Cached ps = prepared("delete from model_install where artifact = ?")) {
            ps.statement().setString(1, artifact);
            ps.statement().executeUpdate();
        }
        deleteModelInstallProgress(artifact);
    }

    /** Install reports not yet delivered, oldest first: (id, JSON body). */
    public List<java.util.Map.Entry<Long, String>> findModelReports() throws SQLException {
        List<java.util.Map.Entry<Long, String>> out = new ArrayList<>();
        try (Cached ps = prepared("select id, body from model_report order by id");
                ResultSet rs = ps.statement().executeQuery()) {
            while (rs.next()) {
                out.add(java.util.Map.entry(rs.getLong(1), rs.getString(2)));
            }
        }
        return out;
    }

    public void queueModelReport(String body) throws SQLException {
        try (Cached ps = prepared("insert into model_report (body) values (?)")) {
            ps.statement().setString(1, body);
            ps.statement().executeUpdate();
        }
    }

    public void deleteModelReport(long id) throws SQLException {
        try (Cached ps = prepared("delete from model_report where id = ?")) {
            ps.statement().setLong(1, id);
            ps.statement().executeUpdate();
        }
    }

    /** Settings whose keys start with {@code prefix}, by key. */
    public java.util.SortedMap<String, String> findMeta(String prefix) throws SQLException {
        java.util.SortedMap<String, String> out = new java.util.TreeMap<>();
        try (Cached ps = prepared("select key, value from meta where key >= ? and key < ? order by key")) {
            ps.statement().setString(1, prefix);
            ps.statement().setString(2, prefix + "\uffff");
            try (ResultSet rs = ps.statement().executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        return out;
    }

    /** A stored row. */
    public record StoredRow(String table, String id, String scope, String state, boolean deleted) {}

    public Optional<StoredRow> getRow(String table, String id) throws SQLException {
        try (Cached ps = prepared("select scope, state, deleted from row_state where tbl = ? and id = ?")) {
            ps.statement().setString(1, table);
            ps.statement().setString(2, id);
            try (ResultSet rs = ps.statement().executeQuery()) {
                return rs.next()
                        ? Optional.of(new StoredRow(table, id, rs.getString(1), rs.getString(2), rs.getInt(3) != 0))
                        : Optional.empty();
            }
        }
    }

    public void putRow(String table, String id, String scope, String state, boolean deleted, int conflicts)
            throws SQLException {
        try (Cached ps =
                prepared("insert into row_state (tbl, id, scope, state, deleted, conflicts) values (?, ?, ?, ?, ?, ?) "
                        + "on conflict (tbl, id) do update set state = excluded.state, deleted = excluded.deleted, "
                        + "conflicts = excluded.conflicts")) {
            ps.statement().setString(1, table);
            ps.statement().setString(2, id);
            ps.statement().setString(3, scope);
            ps.statement().setString(4, state);
            ps.statement().setInt(5, deleted ? 1 : 0);
            ps.statement().setInt(6, conflicts);
            ps.statement().executeUpdate();
        }
    }

    /** Rows of a table, by id; deleted ones only if asked. */
    public List<StoredRow> findRows(String table, boolean withDeleted) throws SQLException {
        List<StoredRow> out = new ArrayList<>();
        try (Cached ps = prepared("select id, scope, state, deleted from row_state " + "where tbl = ?"
                + (withDeleted ? "" : " and deleted = 0") + " order by id")) {
            ps.statement().setString(1, table);
            try (ResultSet rs = ps.statement().executeQuery()) {
                while (rs.next()) {
                    out.add(new StoredRow(table, rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4) != 0));
                }
            }
        }
        return out;
    }

    public List<StoredRow> findRowsWithConflicts() throws SQLException {
        List<StoredRow> out = new ArrayList<>();
        try (Cached ps = prepared(
                        "select tbl, id, scope, state, deleted from row_state where conflicts > 0 order by tbl, id");
                ResultSet rs = ps.statement().executeQuery()) {
            while (rs.next()) {
                out.add(new StoredRow(
                        rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getInt(5) != 0));
            }
        }
        return out;
    }

    /** The change appended last (the highest seq), if any. */
    public Optional<String> getNewestChange() throws SQLException {
        try (Cached ps = prepared("select change from change_log order by seq desc limit 1");
                ResultSet rs = ps.statement().executeQuery()) {
            return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
        }
    }

    public void appendChange(String changeJson) throws SQLException {
        try (Cached ps = prepared("insert into change_log (change) values (?)")) {
            ps.statement().setString(1, changeJson);
            ps.statement().executeUpdate();
        }
    }

    /** One change-log entry. */
    public record LoggedChange(long seq, String change, String batchId, String status, String code, String message) {}

    /** The oldest pending changes, at most {@code limit}. */
    public List<LoggedChange> findPending(int limit) throws SQLException {
        return query(
                "select seq, change, batch_id, status, code, message from change_log where seq > ? and status ="
                        + " 'pending' order by seq limit " + limit,
                settledThrough());
    }

    /** Every change not refused, oldest first. */
    public List<LoggedChange> findSentAndPending() throws SQLException {
        return query(
                "select seq, change, batch_id, status, code, message from change_log where status <> 'refused' order by seq");
    }

    public List<LoggedChange> findRefused() throws SQLException {
        return query(
                "select seq, change, batch_id, status, code, message from change_log where status = 'refused' order by seq");
    }

    public long countPending() throws SQLException {
        try (Cached ps = prepared("select count(*) from change_log where seq > ? and status = 'pending'")) {
            ps.statement().setLong(1, settledThrough());
            try (ResultSet rs = ps.statement().executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private long settledThrough() throws SQLException {
        return getMeta(SETTLED_THROUGH).map(Long::parseLong).orElse(0L);
    }

    /** Moves {@link #SETTLED_THROUGH} up to just below the oldest pending change (or the newest change if none). */
    private void settle() throws SQLException {
        long from = settledThrough();
        String sql = "select coalesce((select min(seq) - 1 from change_log where seq > ? and status = 'pending'),"
                + " (select max(seq) from change_log), 0)";
        try (Cached ps = prepared(sql)) {
            ps.statement().setLong(1, from);
            try (ResultSet rs = ps.statement().executeQuery()) {
                rs.next();
                long through = rs.getLong(1);
                if (through > from) {
                    putMeta(SETTLED_THROUGH, Long.toString(through));
                }
            }
        }
    }

    public void assignBatch(List<Long> seqs, String batchId) throws SQLException {
        update("update change_log set batch_id = ? where seq = ?", seqs, batchId);
    }

    public void markSent(List<Long> seqs) throws SQLException {
        update("update change_log set status = 'sent' where seq = ?", seqs, null);
        settle();
    }

    public void clearBatch(List<Long> seqs) throws SQLException {
        update("update change_log set batch_id = null where seq = ?", seqs, null);
    }

    /** Changes not yet acknowledged by the server: pending (in a batch or not) and refused, in log order. */
    public List<LoggedChange> findUnsent() throws SQLException {
        return query(
                "select seq, change, batch_id, status, code, message from change_log where status = 'refused' union"
                        + " select seq, change, batch_id, status, code, message from change_log where seq > ? and"
                        + " status = 'pending' order by seq",
                settledThrough());
    }

    /** Replaces a logged change's text (a re-stamp); its status stays. */
    public void rewriteChange(long seq, String changeJson) throws SQLException {
        try (Cached ps = prepared("update change_log set change = ? where seq = ?")) {
            ps.statement().setString(1, changeJson);
            ps.statement().setLong(2, seq);
            ps.statement().executeUpdate();
        }
    }

    /** Puts the changes refused with {@code code} back in line to be pushed; returns how many. */
    public int requeueRefused(String code) throws SQLException {
        // Pending again, below the settled mark: the mark goes down first.
        try (Cached ps = prepared("select min(seq) from change_log where status = 'refused' and code = ?")) {
            ps.statement().setString(1, code);
            try (ResultSet rs = ps.statement().executeQuery()) {
                long oldest = rs.next() ? rs.getLong(1) : 0;
                if (oldest > 0 && oldest <= settledThrough()) {
                    putMeta(SETTLED_THROUGH, Long.toString(oldest - 1));
                }
            }
        }
        try (Cached ps =
                prepared("update change_log set status = 'pending', batch_id = null, code = null, message = null "
                        + "where status = 'refused' and code = ?")) {
            ps.statement().setString(1, code);
            return ps.statement().executeUpdate();
        }
    }

    public void markRefused(long seq, String code, String message) throws SQLException {
        try (Cached ps = prepared(
                "update change_log set status = 'refused', batch_id = null, code = ?, message = ? where seq = ?")) {
            ps.statement().setString(1, code);
            ps.statement().setString(2, message);
            ps.statement().setLong(3, seq);
            ps.statement().executeUpdate();
        }
        settle();
    }

    private void update(String sql, List<Long> seqs, String first) throws SQLException {
        try (Cached ps = prepared(sql)) {
            for (long seq : seqs) {
                int i = 1;
                if (first != null) {
                    ps.statement().setString(i++, first);
                }
                ps.statement().setLong(i, seq);
                ps.statement().addBatch();
            }
            ps.statement().executeBatch();
        }
    }

    private List<LoggedChange> query(String sql, long... params) throws SQLException {
        List<LoggedChange> out = new ArrayList<>();
        try (Cached ps = prepared(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.statement().setLong(i + 1, params[i]);
            }
            try (ResultSet rs = ps.statement().executeQuery()) {
                while (rs.next()) {
                    out.add(new LoggedChange(
                            rs.getLong(1),
                            rs.getString(2),
                            rs.getString(3),
                            rs.getString(4),
                            rs.getString(5),
                            rs.getString(6)));
                }
            }
        }
        return out;
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

    private static DeviceException storage(String message, Exception cause) {
        return new DeviceException(ExitCode.STORAGE, message, cause);
    }
}
