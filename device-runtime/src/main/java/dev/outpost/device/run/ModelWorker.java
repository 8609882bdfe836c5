package dev.outpost.device.run;

import dev.outpost.device.DeviceException;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.model.HealthCheck;
import dev.outpost.device.model.ModelUpdater;
import java.util.Random;

/**
 * Background model installs for {@code outpost run}, on their own thread so a long download never holds up data
 * sync. Woken after each sync (which brings the assignments) and every interval; installs each assigned version the
 * device does not run yet, skipping versions that failed their health check or that an operator rolled back from.
 * A failed attempt is retried with the same bounded, jittered backoff as sync; downloads resume where they stopped.
 */
public final class ModelWorker implements Runnable {
    private final OutpostDevice device;
    private final HealthCheck health;
    private final long intervalMs;
    private final Random jitter = new Random();
    private final Wakeup wakeup = new Wakeup();
    private volatile String lastOutcome = "nothing to install yet";

    public ModelWorker(OutpostDevice device, HealthCheck health, long intervalMs) {
        this.device = device;
        this.health = health;
        this.intervalMs = intervalMs;
    }

    public void nudge() {
        wakeup.nudge();
    }

    public void stop() {
        wakeup.stop();
    }

    public String lastOutcome() {
        return lastOutcome;
    }

    @Override
    public void run() {
        Backoff backoff = new Backoff(jitter);
        while (!wakeup.stopping()) {
            long waitMs = intervalMs;
            try {
                ModelUpdater models = device.models();
                for (String artifact : models.artifacts()) {
                    if (wakeup.stopping() || !models.wants(artifact)) {
                        continue;
                    }
                    try {
                        lastOutcome = models.update(artifact, health, (phase, done, steps, bytes, planned) -> {})
                                .describe();
                        backoff.reset();
                    } catch (DeviceException e) {
                        lastOutcome = artifact + ": " + e.getMessage();
                        System.err.println("outpost run: model " + lastOutcome);
                        waitMs = backoff.next();
                    }
                }
            } catch (RuntimeException e) {
                // A fault of this runtime (an answer it did not expect, say): the loop goes on, backs off and shows
                // the failure in status. An install resumes from its persisted progress.
                lastOutcome = "unexpected failure: " + e;
                System.err.println("outpost run: model install failed unexpectedly: " + e);
                waitMs = backoff.next();
            }
            wakeup.await(waitMs);
        }
    }
}
