package dev.outpost.model.faults;

/**
 * Named places where a test may have the process die on the spot ({@code OUTPOST_CRASH_AT=name:n} halts at the n-th
 * time {@code name} is reached, with no shutdown hooks, as a SIGKILL or an OOM kill would). Unset, which is always the
 * case outside tests, it does nothing. The crash tests also kill with SIGKILL at random times; these points make sure
 * the narrow windows are hit (docs/RELIABILITY.md lists which test uses which).
 *
 * <p>On the device:
 *
 * <ul>
 *   <li>{@code write}: a local write's changes are logged and its row updated, its transaction not yet committed;
 *   <li>{@code written}: a local write is committed, the user not yet told;
 *   <li>{@code answered}: the service accepted a pushed batch (or answered a pull), nothing of it applied here yet;
 *   <li>{@code pulled}: a pulled page is applied and committed, the next one not yet asked for;
 *   <li>{@code download}: a model download committed its progress;
 *   <li>{@code activate}: a model slot is complete and about to become (or just became) the active one.
 * </ul>
 *
 * <p>In the service:
 *
 * <ul>
 *   <li>{@code batch-written}: every row, feed entry and conflict of a batch is written, its transaction not yet
 *       committed (PostgreSQL rolls it back; the device sends the batch again);
 *   <li>{@code batch-committed}: the batch is committed, the device not yet answered (it sends the batch again and is
 *       answered from what the first apply recorded).
 * </ul>
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
