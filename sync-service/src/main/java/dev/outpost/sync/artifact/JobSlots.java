package dev.outpost.sync.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;

/**
 * At most {@code n} jobs of a kind at once on this replica; one more is refused at once with 503 {@code unavailable}
 * (devices retry later), never queued: a queue of zstd-19 delta jobs is exactly what a flood would build.
 */
final class JobSlots {
    private final Semaphore slots;
    private final String busy;

    JobSlots(int n, String busy) {
        this.slots = new Semaphore(n);
        this.busy = busy;
    }

    /** Runs {@code job} in a free slot, or refuses when every slot is taken. */
    <T> T run(Supplier<T> job) {
        if (!slots.tryAcquire()) {
            throw new Problem(ErrorCode.UNAVAILABLE, busy);
        }
        try {
            return job.get();
        } finally {
            slots.release();
        }
    }
}
