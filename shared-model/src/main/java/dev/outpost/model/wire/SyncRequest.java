package dev.outpost.model.wire;

import dev.outpost.model.change.Change;
import java.util.List;
import java.util.Objects;

/**
 * One sync round trip from a device: push {@code changes} under {@code batchId} (null when there is nothing to
 * push) and pull everything after {@code cursor} (null for a device that has pulled nothing yet), at most
 * {@code pageSizeMax} changes per answer (0: the server's default).
 */
public record SyncRequest(
        String deviceId, int schemaVersion, String batchId, String cursor, int pageSizeMax, List<Change> changes) {
    public SyncRequest {
        Objects.requireNonNull(deviceId);
        changes = List.copyOf(changes);
        if (!changes.isEmpty() && batchId == null) {
            throw new IllegalArgumentException("a push needs a batch id");
        }
    }
}
