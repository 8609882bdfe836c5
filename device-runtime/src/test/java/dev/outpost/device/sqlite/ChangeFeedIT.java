package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.store.ChangeFeed;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The changes feed on a real SQLite file: order, the table filter, and pruning that keeps the newest entries. */
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
}
