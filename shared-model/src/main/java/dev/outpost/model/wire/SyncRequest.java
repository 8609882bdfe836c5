package dev.outpost.model.wire;

import dev.outpost.model.change.Change;
import java.util.List;
import java.util.Objects;

/**
 * One sync round trip from a device: push {@code changes} under {@code batchId} (null when there is nothing to
 * push) and pull everything after {@code cursor} (null for a device that has pulled nothing yet), at most
 * {@code pageSizeMax} changes per answer (0: the server's default).
 *
 * <p>{@code backfillFrom} (0: none) asks for a backfill instead of the usual pull: a device that upgraded its schema
 * from that version reads the feed again from its start with a cursor of its own, and gets only what its old schema
 * could not hold (rows of new tables, values of new fields, deletes as they touch new fields).
 *
 * <p>{@code rebuild} asks for this device's own changes too, which a pull otherwise never echoes: a device whose
 * database was rebuilt ({@code outpost doctor --repair}) pulls from the start with it until it has read everything.
 */
public record SyncRequest(
        String deviceId,
        int schemaVersion,
        String batchId,
        String cursor,
        int pageSizeMax,
        List<Change> changes,
        int backfillFrom,
        boolean rebuild) {
    public SyncRequest {
        Objects.requireNonNull(deviceId);
        changes = List.copyOf(changes);
        if (!changes.isEmpty() && batchId == null) {
            throw new IllegalArgumentException("a push needs a batch id");
        }
        if (backfillFrom < 0 || (backfillFrom > 0 && !changes.isEmpty())) {
            throw new IllegalArgumentException("a backfill is a pull of its own: a version above 0, nothing pushed");
        }
    }

    public SyncRequest(
            String deviceId, int schemaVersion, String batchId, String cursor, int pageSizeMax, List<Change> changes) {
        this(deviceId, schemaVersion, batchId, cursor, pageSizeMax, changes, 0);
    }

    public SyncRequest(
            String deviceId,
            int schemaVersion,
            String batchId,
            String cursor,
            int pageSizeMax,
            List<Change> changes,
            int backfillFrom) {
        this(deviceId, schemaVersion, batchId, cursor, pageSizeMax, changes, backfillFrom, false);
    }
}
