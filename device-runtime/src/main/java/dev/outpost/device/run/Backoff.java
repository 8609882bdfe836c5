package dev.outpost.device.run;

import java.util.Random;

/**
 * Exponential backoff with full jitter for the background loops: 1 s doubling to at most 5 min, each wait drawn
 * uniformly below the current bound, so devices that lost the link together do not all come back at the same instant.
 */
final class Backoff {
    static final long FIRST_MS = 1_000;
    static final long MAX_MS = 300_000;

    private final Random jitter;
    private long boundMs = FIRST_MS;

    Backoff(Random jitter) {
        this.jitter = jitter;
    }

    /** The next wait; the bound doubles for the one after. */
    long next() {
        long wait = (long) (jitter.nextDouble() * boundMs);
        boundMs = Math.min(MAX_MS, boundMs * 2);
        return wait;
    }

    void reset() {
        boundMs = FIRST_MS;
    }
}
