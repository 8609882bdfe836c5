package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.store.ChangeFeed;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The changes feed on a real SQLite file: order, the table filter, pruning that keeps the newest entries, and local
 * writes listed from the change log under the same seq as the rows recorded.
 */
class ChangeFeedIT {
    @TempDir
    Path dir;

    @Test
    void entriesComeInOrderAndPruningKeepsTheNewest() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("feed.db"))) {
            SqliteChangeFeed feed = new SqliteChangeFeed(db);
            assertEquals(0, db.inTransaction(feed::head));
            int written = ChangeFeed.KEEP + ChangeFeed.KEEP / 10 + 5;
            db.run(() -> {
                for (int i = 1; i <= written; i++) {
                    feed.record(i % 2 == 0 ? "plot" : "farmer", "r" + i, i % 7 == 0, ChangeFeed.Origin.LOCAL);
                }
            });
            assertEquals(written, db.inTransaction(feed::head));
            List<ChangeFeed.Entry> plots = db.inTransaction(() -> feed.after(10, "plot", 3));
            assertEquals(
                    List.of(12L, 14L, 16L),
                    plots.stream().map(ChangeFeed.Entry::seq).toList());
            assertEquals("r14", plots.get(1).id());
            assertTrue(
                    db.inTransaction(() -> feed.after(13, null, 1)).getFirst().deleted(), "seq 14 was a delete");

            db.run(feed::prune);
            assertEquals(written, db.inTransaction(feed::head), "the newest entry stays");
            assertEquals(written - ChangeFeed.KEEP + 1, db.inTransaction(feed::oldest));

            db.run(() -> feed.record("farmer", "after-prune", false, ChangeFeed.Origin.SYNC));
            ChangeFeed.Entry next =
                    db.inTransaction(() -> feed.after(written, null, 10)).getFirst();
            assertEquals(written + 1, next.seq(), "a seq is never given twice");
            assertEquals("sync", next.origin());

            long oldest = db.inTransaction(feed::oldest);
            db.run(feed::prune);
            assertEquals(oldest, db.inTransaction(feed::oldest), "pruning waits for a step's worth of entries");
        }
    }

    @Test
    void aResetPutsEveryPlaceBeforeItBehindTheFloorAndTheNextEntryAfterIt() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("feed.db"))) {
            SqliteChangeFeed feed = new SqliteChangeFeed(db);
            db.run(() -> {
                for (int i = 1; i <= 5; i++) {
                    feed.record("farmer", "r" + i, false, ChangeFeed.Origin.SYNC);
                }
            });
            db.run(feed::reset);
            long oldest = db.inTransaction(feed::oldest);
            assertTrue(oldest > 6, "a reader at 5 (the head before) is behind: " + oldest);
            assertEquals(List.of(), db.inTransaction(() -> feed.after(0, null, 10)), "the marker is never listed");
            db.run(() -> feed.record("farmer", "after", false, ChangeFeed.Origin.SYNC));
            List<ChangeFeed.Entry> next = db.inTransaction(() -> feed.after(0, null, 10));
            assertEquals(
                    List.of("after"), next.stream().map(ChangeFeed.Entry::id).toList());
            assertEquals(oldest, next.getFirst().seq(), "the first entry after the reset is the oldest listed");
        }
    }

    private static String change(String table, String id, String field, String op) {
        return "[{\"table\":\"" + table + "\",\"id\":\"" + id + "\",\"scope\":\"nakuru\",\"field\":\"" + field
                + "\",\"clock\":\"1796436845876:0:d1\",\"op\":\"" + op + "\""
                + (op.equals("assign") ? ",\"value\":\"x\"" : "")
                + "}]";
    }

    @Test
    void localWritesAreListedFromTheChangeLogUnderTheSameSeq() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("feed.db"))) {
            SqliteChangeFeed feed = new SqliteChangeFeed(db);
            SqliteChangeLog log = new SqliteChangeLog(db);
            db.run(() -> {
                // A put of two fields (two changes, one entry), a pulled row, a delete, another pulled row.
                log.append(change("farmer", "f1", "name", "assign"));
                log.append(change("farmer", "f1", "village", "assign"));
                feed.record("plot", "p9", false, ChangeFeed.Origin.SYNC);
                log.append(change("plot", "p1", "", "delete"));
                feed.record("farmer", "f2", true, ChangeFeed.Origin.SYNC);
            });
            List<ChangeFeed.Entry> all = db.inTransaction(() -> feed.after(0, null, 100));
            assertEquals(
                    List.of(
                            new ChangeFeed.Entry(2, "farmer", "f1", false, "local"),
                            new ChangeFeed.Entry(3, "plot", "p9", false, "sync"),
                            new ChangeFeed.Entry(4, "plot", "p1", true, "local"),
                            new ChangeFeed.Entry(5, "farmer", "f2", true, "sync")),
                    all);
            assertEquals(5, db.inTransaction(feed::head));
            assertEquals(
                    List.of(3L, 4L),
                    db.inTransaction(() -> feed.after(1, "plot", 10)).stream()
                            .map(ChangeFeed.Entry::seq)
                            .toList());
            // A place between a write's two changes lists the write's row once more, not the first change again.
            assertEquals(
                    new ChangeFeed.Entry(2, "farmer", "f1", false, "local"),
                    db.inTransaction(() -> feed.after(1, null, 1)).getFirst());

            // Pruning hides old change-log rows from the feed but leaves them to sync.
            int more = ChangeFeed.KEEP + ChangeFeed.KEEP / 10;
            db.run(() -> {
                for (int i = 0; i < more; i++) {
                    feed.record("farmer", "bulk" + i, false, ChangeFeed.Origin.SYNC);
                }
                feed.prune();
            });
            long oldest = db.inTransaction(feed::oldest);
            assertEquals(5 + more - ChangeFeed.KEEP + 1, oldest);
            assertEquals(
                    oldest,
                    db.inTransaction(() -> feed.after(0, null, 1)).getFirst().seq());
            assertEquals(3, db.inTransaction(log::countPending), "the log keeps every change for sync");
            db.run(() -> log.append(change("farmer", "f1", "name", "assign")));
            assertEquals(
                    5 + more + 1,
                    db.inTransaction(() -> feed.after(5 + more, null, 10))
                            .getFirst()
                            .seq(),
                    "the log takes the next seq above the recorded rows");
        }
    }
}
