package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.store.ChangeFeed;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link ChangeFeed} over two tables sharing one seq: {@code change_log} (a local write's changes, which name their
 * row) and {@code row_feed} (every other saved row). Both take the next seq above the two ({@link #NEXT_SEQ}), so
 * entries are appended at the end of their B-trees and a seq is never given twice. Pruning drops {@code row_feed}'s
 * oldest entries and raises the floor ({@code meta.feed_floor}) under which neither table is listed; the change log
 * keeps its rows for sync. One instance per open database: a recorded entry wakes the readers waiting on it, which then
 * read under the database's lock, so after the writer's transaction ends.
 */
public final class SqliteChangeFeed implements ChangeFeed {
    /** The seq the next entry of either table takes (also used by {@link SqliteChangeLog#append}). */
    static final String NEXT_SEQ = "(select max(coalesce((select max(seq) from change_log), 0),"
            + " coalesce((select max(seq) from row_feed), 0)) + 1)";

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
            try (var ps = db.prepared(
                    "insert into row_feed (seq, tbl, id, deleted, origin) values (" + NEXT_SEQ + ", ?, ?, ?, ?)")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                ps.statement().setInt(3, deleted ? 1 : 0);
                ps.statement().setString(4, origin.key);
                return ps.statement().executeUpdate();
            }
        });
        logged();
    }

    @Override
    public void logged() {
        synchronized (recorded) {
            recorded.notifyAll();
        }
    }

    @Override
    public List<Entry> after(long seq, String table, int limit) {
        long from = Math.max(seq, floor());
        return sql(() -> {
            // Both tables' entries in seq order: a merge of two rowid ranges, read lazily, so a reader far behind
            // costs only the page it reads. No LIMIT: the page ends once it holds `limit` entries and the next row
            // is not part of the last entry's write.
            String filterFeed = table == null ? "" : " and tbl = ?2";
            String filterLog = table == null ? "" : " and json_extract(change, '$[0].table') = ?2";
            String query = "select seq, tbl, id, deleted, origin from row_feed where seq > ?1" + filterFeed
                    + " union all select seq, json_extract(change, '$[0].table'), json_extract(change, '$[0].id'),"
                    + " json_extract(change, '$[0].op') = 'delete', 'local' from change_log where seq > ?1"
                    + filterLog + " order by 1";
            try (var ps = db.prepared(query)) {
                ps.statement().setLong(1, from);
                if (table != null) {
                    ps.statement().setString(2, table);
                }
                List<Entry> out = new ArrayList<>();
                try (ResultSet rs = ps.statement().executeQuery()) {
                    while (rs.next()) {
                        Entry e = new Entry(
                                rs.getLong(1), rs.getString(2), rs.getString(3), rs.getInt(4) != 0, rs.getString(5));
                        // A local write of several fields logs a change each, one after the other: one entry.
                        if (!out.isEmpty() && sameWrite(out.getLast(), e)) {
                            out.set(out.size() - 1, e);
                        } else if (out.size() == limit) {
                            break;
                        } else {
                            out.add(e);
                        }
                    }
                }
                return out;
            }
        });
    }

    private static boolean sameWrite(Entry a, Entry b) {
        return a.origin().equals(Origin.LOCAL.key)
                && b.origin().equals(Origin.LOCAL.key)
                && a.table().equals(b.table())
                && a.id().equals(b.id())
                && !a.deleted();
    }

    @Override
    public long head() {
        return single("select max(coalesce((select max(seq) from change_log), 0),"
                + " coalesce((select max(seq) from row_feed), 0))");
    }

    @Override
    public long oldest() {
        long floor = floor();
        return floor > 0 ? floor + 1 : Math.min(1, head());
    }

    @Override
    public void reset() {
        // A marker entry under the new floor: never listed, it keeps the next seq above the floor.
        long marker = head() + 1;
        sql(() -> {
            try (var ps =
                    db.prepared("insert into row_feed (seq, tbl, id, deleted, origin) values (?, '', '', 0, ?)")) {
                ps.statement().setLong(1, marker);
                ps.statement().setString(2, Origin.SYNC.key);
                ps.statement().executeUpdate();
            }
            return raiseFloor(marker);
        });
        logged();
    }

    private int raiseFloor(long floor) throws java.sql.SQLException {
        try (var ps = db.prepared("insert into meta (key, value) values ('feed_floor', ?)"
                + " on conflict (key) do update set value = excluded.value")) {
            ps.statement().setString(1, Long.toString(floor));
            return ps.statement().executeUpdate();
        }
    }

    @Override
    public void prune() {
        long head = head();
        if (head - floor() < KEEP + PRUNE_STEP) {
            return;
        }
        long floor = head - KEEP;
        sql(() -> {
            try (var ps = db.prepared("delete from row_feed where seq <= ?")) {
                ps.statement().setLong(1, floor);
                ps.statement().executeUpdate();
            }
            return raiseFloor(floor);
        });
    }

    /** The seq at and under which nothing is listed (0: everything is). */
    private long floor() {
        return single("select coalesce((select cast(value as integer) from meta where key = 'feed_floor'), 0)");
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
