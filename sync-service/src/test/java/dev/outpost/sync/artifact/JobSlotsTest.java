package dev.outpost.sync.artifact;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The delta-job bound: two jobs run, a third is refused at once with 503, a slot freed is taken again. */
class JobSlotsTest {
    @Test
    void pastTheBoundAJobIsRefusedAtOnceAndAFreedSlotIsUsedAgain() throws Exception {
        JobSlots slots = new JobSlots(ArtifactService.DELTA_JOBS_MAX, "busy");
        CountDownLatch started = new CountDownLatch(ArtifactService.DELTA_JOBS_MAX);
        CountDownLatch finish = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(ArtifactService.DELTA_JOBS_MAX);
        try {
            Future<?>[] running = new Future<?>[ArtifactService.DELTA_JOBS_MAX];
            for (int i = 0; i < running.length; i++) {
                running[i] = pool.submit(() -> slots.run(() -> {
                    started.countDown();
                    try {
                        return finish.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            started.await(30, TimeUnit.SECONDS);
            Problem refused = assertThrows(Problem.class, () -> slots.run(() -> "a third job"));
            assertEquals(ErrorCode.UNAVAILABLE, refused.code());
            assertEquals(503, refused.status());

            finish.countDown();
            for (Future<?> f : running) {
                assertEquals(true, f.get(30, TimeUnit.SECONDS));
            }
            assertEquals("next", slots.run(() -> "next"), "a freed slot takes the next job");
            // A job that fails gives its slot back too.
            for (int i = 0; i < 3; i++) {
                assertThrows(
                        IllegalStateException.class,
                        () -> slots.run(() -> {
                            throw new IllegalStateException("failed job");
                        }));
            }
            assertEquals("after failures", slots.run(() -> "after failures"));
        } finally {
            pool.shutdownNow();
        }
    }
}
