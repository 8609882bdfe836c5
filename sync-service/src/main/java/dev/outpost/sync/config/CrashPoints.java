package dev.outpost.sync.config;

/**
 * Named places in a batch's apply where a test may have the service die on the spot ({@code OUTPOST_CRASH_AT=name:n}
 * halts the process at the n-th time {@code name} is reached, with no shutdown hooks, as a SIGKILL or an OOM kill
 * would). Unset, which is always the case outside tests, it does nothing. The points:
 *
 * <ul>
 *   <li>{@code batch-written}: every row, feed entry and conflict of a batch is written, its transaction not yet
 *       committed (PostgreSQL rolls it back; the device sends the batch again);
 *   <li>{@code batch-committed}: the batch is committed, the device not yet answered (it sends the batch again and is
 *       answered from what the first apply recorded).
 * </ul>
 *
 * The chaos soak (docs/RELIABILITY.md) starts the service with one of them at a seeded n.
 */
public final class CrashPoints {
    private static final String SETTING = System.getenv("OUTPOST_CRASH_AT");
    private static int reached;

    private CrashPoints() {}

    public static synchronized void reached(String name) {
        if (SETTING == null) {
            return;
        }
        int colon = SETTING.indexOf(':');
        if (colon > 0
                && SETTING.substring(0, colon).equals(name)
                && ++reached == Integer.parseInt(SETTING.substring(colon + 1))) {
            Runtime.getRuntime().halt(137);
        }
    }
}
