package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.store.ChangeLog;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@link ChangeLog} over the table {@code change_log}. Every page a local write dirties is written to the WAL and
 * synced, so the log keeps what a write touches to its own row: {@code seq} is a plain rowid and there is no index over
 * every entry's status. Pending changes are found by seq above the settled mark ({@link #SETTLED_THROUGH}), refused
 * ones through a partial index that a new, pending, entry never enters.
 */
public final class SqliteChangeLog implements ChangeLog {
    /**
     * The meta key holding a seq at or below which no change is pending (each one is sent, refused or discarded). It
     * only ever saves work: 0, or a missing key, is always true.
     */
    static final String SETTLED_THROUGH = "change_log_settled_through";

    private static final String COLUMNS = "select seq, change, batch_id, status, code, message from change_log";

    private final SqliteDatabase db;

    public SqliteChangeLog(SqliteDatabase db) {
        this.db = db;
    }

    @Override
    public void append(String changeJson) {
        sql(() -> {
            // The feed's seq, shared with row_feed: a logged change is also the feed's entry for the write.
            try (var ps =
                    db.prepared("insert into change_log (seq, change) values (" + SqliteChangeFeed.NEXT_SEQ + ", ?)")) {
                ps.statement().setString(1, changeJson);
                return ps.statement().executeUpdate();
            }
        });
    }

    @Override
    public Optional<LoggedChange> getNewest() {
        List<LoggedChange> found = query(COLUMNS + " order by seq desc limit 1");
        return found.isEmpty() ? Optional.empty() : Optional.of(found.getFirst());
    }

    @Override
    public Optional<String> newestClock() {
        return sql(() -> {
            try (var ps = db.prepared(
                            "select json_extract(change, '$[0].clock') from change_log order by seq desc limit 1");
                    ResultSet rs = ps.statement().executeQuery()) {
                return rs.next() ? Optional.ofNullable(rs.getString(1)) : Optional.empty();
            }
        });
    }

    @Override
    public Optional<LoggedChange> get(long seq) {
        List<LoggedChange> found = query(COLUMNS + " where seq = ?", seq);
        return found.isEmpty() ? Optional.empty() : Optional.of(found.getFirst());
    }

    @Override
    public List<LoggedChange> findPending(int limit) {
        return query(
                COLUMNS + " where seq > ? and status = 'pending' order by seq limit " + Math.max(0, limit),
                settledThrough());
    }

    @Override
    public long countPending() {
        return sql(() -> {
            try (var ps = db.prepared("select count(*) from change_log where seq > ? and status = 'pending'")) {
                ps.statement().setLong(1, settledThrough());
                try (ResultSet rs = ps.statement().executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
    }

    @Override
    public List<LoggedChange> findRefused() {
        return query(COLUMNS + " where status = 'refused' order by seq");
    }

    @Override
    public List<LoggedChange> findUnsent() {
        return query(
                COLUMNS + " where status = 'refused' union " + COLUMNS
                        + " where seq > ? and status = 'pending' order by seq",
                settledThrough());
    }

    @Override
    public List<LoggedChange> findSentAndPending() {
        return query(COLUMNS + " where status in ('pending', 'sent') order by seq");
    }

    @Override
    public List<LoggedChange> findBatch(String batchId) {
        return sql(() -> {
            List<LoggedChange> out = new ArrayList<>();
            try (var ps =
                    db.prepared(COLUMNS + " where seq > ? and status = 'pending' and batch_id = ? order by seq")) {
                ps.statement().setLong(1, settledThrough());
                ps.statement().setString(2, batchId);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    while (rs.next()) {
                        out.add(read(rs));
                    }
                }
            }
            return out;
        });
    }

    @Override
    public void assignBatch(List<Long> seqs, String batchId) {
        update("update change_log set batch_id = ? where seq = ? and status = 'pending'", seqs, batchId);
    }

    @Override
    public void clearBatch(List<Long> seqs) {
        update("update change_log set batch_id = null where seq = ?", seqs, null);
    }

    @Override
    public void markSent(List<Long> seqs) {
        update("update change_log set status = 'sent' where seq = ? and status = 'pending'", seqs, null);
        settle();
    }

    @Override
    public void markRefused(long seq, String code, String message) {
        sql(() -> {
            try (var ps = db.prepared("update change_log set status = 'refused', batch_id = null, code = ?, message = ?"
                    + " where seq = ? and status in ('pending', 'refused')")) {
                ps.statement().setString(1, code);
                ps.statement().setString(2, message);
                ps.statement().setLong(3, seq);
                return ps.statement().executeUpdate();
            }
        });
        settle();
    }

    @Override
    public int requeueRefused(String code) {
        return sql(() -> {
            // Pending again, below the settled mark: the mark goes down first.
            try (var ps = db.prepared("select min(seq) from change_log where status = 'refused' and code = ?")) {
                ps.statement().setString(1, code);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    lowerSettledMark(rs.next() ? rs.getLong(1) : 0);
                }
            }
            try (var ps = db.prepared("update change_log set status = 'pending', batch_id = null, code = null,"
                    + " message = null where status = 'refused' and code = ?")) {
                ps.statement().setString(1, code);
                return ps.statement().executeUpdate();
            }
        });
    }

    @Override
    public boolean retry(long seq) {
        return sql(() -> {
            try (var ps = db.prepared("update change_log set status = 'pending', batch_id = null, code = null,"
                    + " message = null where seq = ? and status = 'refused'")) {
                ps.statement().setLong(1, seq);
                if (ps.statement().executeUpdate() == 0) {
                    return false;
                }
            }
            lowerSettledMark(seq);
            return true;
        });
    }

    @Override
    public boolean discard(long seq) {
        boolean done = sql(() -> {
            try (var ps = db.prepared("update change_log set status = 'discarded', batch_id = null"
                    + " where seq = ? and status in ('pending', 'refused')")) {
                ps.statement().setLong(1, seq);
                return ps.statement().executeUpdate() > 0;
            }
        });
        if (done) {
            settle();
        }
        return done;
    }

    @Override
    public void rewrite(long seq, String changeJson) {
        sql(() -> {
            try (var ps = db.prepared("update change_log set change = ? where seq = ?")) {
                ps.statement().setString(1, changeJson);
                ps.statement().setLong(2, seq);
                return ps.statement().executeUpdate();
            }
        });
    }

    private long settledThrough() {
        return SqliteSettings.get(db, SETTLED_THROUGH).map(Long::parseLong).orElse(0L);
    }

    /** Makes {@code seq} pending-visible: the settled mark goes below it. */
    private void lowerSettledMark(long seq) {
        if (seq > 0 && seq <= settledThrough()) {
            SqliteSettings.put(db, SETTLED_THROUGH, Long.toString(seq - 1));
        }
    }

    /** Moves the settled mark up to just below the oldest pending change (or the newest change if none). */
    private void settle() {
        sql(() -> {
            long from = settledThrough();
            try (var ps = db.prepared(
                    "select coalesce((select min(seq) - 1 from change_log where seq > ? and status = 'pending'),"
                            + " (select max(seq) from change_log), 0)")) {
                ps.statement().setLong(1, from);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    rs.next();
                    long through = rs.getLong(1);
                    if (through > from) {
                        SqliteSettings.put(db, SETTLED_THROUGH, Long.toString(through));
                    }
                }
            }
            return null;
        });
    }

    private void update(String sqlText, List<Long> seqs, String first) {
        sql(() -> {
            try (var ps = db.prepared(sqlText)) {
                for (long seq : seqs) {
                    int i = 1;
                    if (first != null) {
                        ps.statement().setString(i++, first);
                    }
                    ps.statement().setLong(i, seq);
                    ps.statement().addBatch();
                }
                return ps.statement().executeBatch();
            }
        });
    }

    private List<LoggedChange> query(String sqlText, long... params) {
        return sql(() -> {
            List<LoggedChange> out = new ArrayList<>();
            try (var ps = db.prepared(sqlText)) {
                for (int i = 0; i < params.length; i++) {
                    ps.statement().setLong(i + 1, params[i]);
                }
                try (ResultSet rs = ps.statement().executeQuery()) {
                    while (rs.next()) {
                        out.add(read(rs));
                    }
                }
            }
            return out;
        });
    }

    private static LoggedChange read(ResultSet rs) throws SQLException {
        return new LoggedChange(
                rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6));
    }
}
