package dev.outpost.device.model;

/**
 * Collects the old generation where an install has just made much of it garbage.
 *
 * <p>Why: the device runs Serial GC, which grows the old generation whenever a young collection promotes more than
 * fits, and collects it only once it cannot grow (with the default heap limit, a quarter of the device's memory, that
 * is never during an install). Manifests, plans and frames that outlive a young collection would otherwise add
 * resident memory in proportion to the model's size: a 1 GB update grew the old generation to 12.4 MB for 7.5 MB of
 * live objects. A full collection of that much takes milliseconds; after one, promotions reuse the freed space instead
 * of touching new pages.
 */
final class OldGeneration {
    private static long lastNanos = System.nanoTime();

    /**
     * Chunks a target must have before the planner's garbage is worth a collection of its own: below it (256 MB at
     * 64 KiB chunks) the held version's index and the plan's workings are under half a megabyte, and the full
     * collection found nothing to free (85 MB update: 3 MB before and after) but took 5-10 ms of the update.
     */
    static final int PLAN_CHUNKS = 4096;

    private OldGeneration() {}

    static synchronized void collect() {
        System.gc();
        lastNanos = System.nanoTime();
    }

    /** {@link #collect()} when the last collection is at least {@code intervalNanos} old. */
    static synchronized void collectEvery(long intervalNanos) {
        if (System.nanoTime() - lastNanos >= intervalNanos) {
            collect();
        }
    }
}
