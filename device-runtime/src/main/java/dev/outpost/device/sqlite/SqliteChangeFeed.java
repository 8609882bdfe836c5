package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.store.ChangeFeed;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link ChangeFeed} over the table {@code row_feed}, whose seq is its rowid: entries are appended at the end of its
 * B-tree, and pruning never removes the newest, so a seq is never given twice. One instance per open database: a
 * recorded entry wakes the readers waiting on it, which then read under the database's lock, so after the
 * writer's transaction ends.
 */
public final class SqliteChangeFeed implements ChangeFeed {
    /** Pruning waits until this many entries beyond {@link #KEEP} have piled up, then deletes them in one go. */
    private static final int PRUNE_STEP = KEEP / 10;

    private final SqliteDatabase db;
    private final Object recorded = new Object();

    public SqliteChangeFeed(SqliteDatabase db) {
        this.db = db;
    }

    @Override
    public void record(String table, String id, boolean deleted, Origin origin) {
        sql(() -> {
            try (var ps = db.prepared("insert into row_feed (tbl, id, deleted, origin) values (?, ?, ?, ?)")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                ps.statement().setInt(3, deleted ? 1 : 0);
                ps.statement().setString(4, origin.key);
                return ps.statement().executeUpdate();
            }
        });
        synchronized (recorded) {
            recorded.notifyAll();
        }
    }

    @Override
    public List<Entry> after(long seq, String table, int limit) {
        return sql(() -> {
            String where = table == null ? "seq > ?" : "seq > ? and tbl = ?";
            try (var ps = db.prepared(
                    "select seq, tbl, id, deleted, origin from row_feed where " + where + " order by seq limit ?")) {
                int i = 1;
                ps.statement().setLong(i++, seq);
                if (table != null) {
                    ps.statement().setString(i++, table);
                }
                ps.statement().setInt(i, limit);
                List<Entry> out = new ArrayList<>();
                try (ResultSet rs = ps.statement().executeQuery()) {
                    while (rs.next()) {
                        out.add(new Entry(
                                rs.getLong(1), rs.getString(2), rs.getString(3), rs.getInt(4) != 0, rs.getString(5)));
                    }
                }
                return out;
            }
        });
    }

    @Override
    public long head() {
        return single("select coalesce(max(seq), 0) from row_feed");
    }

    @Override
    public long oldest() {
        return single("select coalesce(min(seq), 0) from row_feed");
    }

    @Override
    public void prune() {
        long head = head();
        if (head - oldest() < KEEP + PRUNE_STEP) {
            return;
        }
        sql(() -> {
            try (var ps = db.prepared("delete from row_feed where seq <= ?")) {
                ps.statement().setLong(1, head - KEEP);
                return ps.statement().executeUpdate();
            }
        });
    }

    @Override
    public void awaitRecorded(long ms) {
        synchronized (recorded) {
            try {
                recorded.wait(Math.max(1, ms));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private long single(String query) {
        return sql(() -> {
            try (var ps = db.prepared(query);
                    ResultSet rs = ps.statement().executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0L;
            }
        });
    }
}
