package dev.outpost.device.sync;

/**
 * What one sync did.
 *
 * @param orphans pulled rows whose parent row is missing on this device (reported, kept)
 * @param restamped changes re-stamped because the device's clock ran ahead of the server's
 * @param backfilled changes received by a backfill after a schema upgrade (values the old schema could not hold)
 * @param serverSchemaVersion the schema version the service said it runs (0: it did not say)
 */
public record SyncResult(
        int pushed,
        int pulled,
        int refused,
        int conflictsOpened,
        int orphans,
        int restamped,
        int backfilled,
        int serverSchemaVersion) {
    public SyncResult(int pushed, int pulled, int refused, int conflictsOpened, int orphans, int restamped) {
        this(pushed, pulled, refused, conflictsOpened, orphans, restamped, 0, 0);
    }

    /** This sync followed by {@code next} (the sync after a schema upgrade), counted as one. */
    public SyncResult then(SyncResult next) {
        return new SyncResult(
                pushed + next.pushed,
                pulled + next.pulled,
                refused + next.refused,
                conflictsOpened + next.conflictsOpened,
                orphans + next.orphans,
                restamped + next.restamped,
                backfilled + next.backfilled,
                Math.max(serverSchemaVersion, next.serverSchemaVersion));
    }
}
