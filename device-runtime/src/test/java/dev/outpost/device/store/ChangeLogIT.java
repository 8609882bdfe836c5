package dev.outpost.device.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
        try (LocalStore store = LocalStore.open(dir.resolve("device.db"))) {
            store.inTransaction(() -> {
                for (int i = 1; i <= 5; i++) {
                    store.appendChange("{\"n\":" + i + "}");
                }
                return null;
            });
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seqs(store.inTransaction(() -> store.findPending(10))));
            assertEquals(Optional.of("{\"n\":5}"), store.inTransaction(store::getNewestChange));

            store.inTransaction(() -> {
                store.markSent(List.of(1L, 2L));
                store.markRefused(4, "clock-skew", "ahead");
                return null;
            });
            assertEquals(List.of(3L, 5L), seqs(store.inTransaction(() -> store.findPending(10))));
            assertEquals(List.of(3L, 4L, 5L), seqs(store.inTransaction(store::findUnsent)));
            assertEquals(2L, store.inTransaction(store::countPending));
            assertEquals(Optional.of("2"), store.inTransaction(() -> store.getMeta(LocalStore.SETTLED_THROUGH)));

            store.inTransaction(() -> {
                store.markSent(List.of(3L, 5L));
                return null;
            });
            assertEquals(List.of(), seqs(store.inTransaction(() -> store.findPending(10))));
            assertEquals(Optional.of("5"), store.inTransaction(() -> store.getMeta(LocalStore.SETTLED_THROUGH)));
            assertEquals(List.of(4L), seqs(store.inTransaction(store::findRefused)));

            // A refused change put back in line lies below the mark: the mark comes down so it is found again.
            assertEquals(1, store.inTransaction(() -> store.requeueRefused("clock-skew")));
            assertEquals(List.of(4L), seqs(store.inTransaction(() -> store.findPending(10))));
            assertEquals(1L, store.inTransaction(store::countPending));

            store.inTransaction(() -> {
                store.appendChange("{\"n\":6}");
                store.markSent(List.of(4L));
                return null;
            });
            assertEquals(List.of(6L), seqs(store.inTransaction(() -> store.findPending(10))));
        }
        // Reopened (the schema statements run again), the log and its mark are as they were.
        try (LocalStore store = LocalStore.open(dir.resolve("device.db"))) {
            assertEquals(List.of(6L), seqs(store.inTransaction(() -> store.findPending(10))));
            assertEquals(Optional.of("5"), store.inTransaction(() -> store.getMeta(LocalStore.SETTLED_THROUGH)));
        }
    }

    private static List<Long> seqs(List<LocalStore.LoggedChange> changes) {
        return changes.stream().map(LocalStore.LoggedChange::seq).toList();
    }
}
