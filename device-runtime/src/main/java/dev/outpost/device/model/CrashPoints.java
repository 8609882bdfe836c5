package dev.outpost.device.model;

/**
 * Named places in the install path where a test may have the process die on the spot
 * ({@code OUTPOST_CRASH_AT=name:n} halts at the n-th time {@code name} is reached, with no shutdown hooks, like a
 * power cut as far as this process is concerned). Unset, which is always the case outside tests, it does nothing.
 * The crash tests also kill with SIGKILL at random times; these points make sure the narrow windows are hit.
 */
final class CrashPoints {
    private static final String SETTING = System.getenv("OUTPOST_CRASH_AT");
    private static int reached;

    private CrashPoints() {}

    static synchronized void reached(String name) {
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
