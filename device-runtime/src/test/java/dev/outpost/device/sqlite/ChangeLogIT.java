package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outpost.device.store.ChangeLog;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The change log's bookkeeping on a real SQLite file: pending changes are found above the settled mark, and the mark
 * never passes a change that is still (or again) pending.
 */
class ChangeLogIT {
    @TempDir
    Path dir;

    @Test
    void pendingChangesAreFoundWhateverWasSentRefusedOrRequeued() throws Exception {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("device.db"))) {
            SqliteChangeLog store = new SqliteChangeLog(db);
            db.inTransaction(() -> {
                for (int i = 1; i <= 5; i++) {
                    store.append("{\"n\":" + i + "}");
                }
                return null;
            });
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seqs(db.inTransaction(() -> store.findPending(10))));
            assertEquals(
                    Optional.of("{\"n\":5}"), db.inTransaction(store::getNewest).map(ChangeLog.LoggedChange::change));

            db.inTransaction(() -> {
                store.markSent(List.of(1L, 2L));
                store.markRefused(4, "clock-skew", "ahead");
                return null;
            });
            assertEquals(List.of(3L, 5L), seqs(db.inTransaction(() -> store.findPending(10))));
            assertEquals(List.of(3L, 4L, 5L), seqs(db.inTransaction(store::findUnsent)));
            assertEquals(2L, db.inTransaction(store::countPending));
            assertEquals(
                    Optional.of("2"), db.inTransaction(() -> SqliteSettings.get(db, SqliteChangeLog.SETTLED_THROUGH)));

            db.inTransaction(() -> {
                store.markSent(List.of(3L, 5L));
                return null;
            });
            assertEquals(List.of(), seqs(db.inTransaction(() -> store.findPending(10))));
            assertEquals(
                    Optional.of("5"), db.inTransaction(() -> SqliteSettings.get(db, SqliteChangeLog.SETTLED_THROUGH)));
            assertEquals(List.of(4L), seqs(db.inTransaction(store::findRefused)));

            // A refused change put back in line lies below the mark: the mark comes down so it is found again.
            assertEquals(1, db.inTransaction(() -> store.requeueRefused("clock-skew")));
            assertEquals(List.of(4L), seqs(db.inTransaction(() -> store.findPending(10))));
            assertEquals(1L, db.inTransaction(store::countPending));

            db.inTransaction(() -> {
                store.append("{\"n\":6}");
                store.markSent(List.of(4L));
                return null;
            });
            assertEquals(List.of(6L), seqs(db.inTransaction(() -> store.findPending(10))));
        }
        // Reopened (the schema statements run again), the log and its mark are as they were.
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("device.db"))) {
            SqliteChangeLog store = new SqliteChangeLog(db);
            assertEquals(List.of(6L), seqs(db.inTransaction(() -> store.findPending(10))));
            assertEquals(
                    Optional.of("5"), db.inTransaction(() -> SqliteSettings.get(db, SqliteChangeLog.SETTLED_THROUGH)));
        }
    }

    private static List<Long> seqs(List<ChangeLog.LoggedChange> changes) {
        return changes.stream().map(ChangeLog.LoggedChange::seq).toList();
    }
}
