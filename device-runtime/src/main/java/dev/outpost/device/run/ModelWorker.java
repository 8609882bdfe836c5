package dev.outpost.device.run;

import dev.outpost.device.DeviceException;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.model.HealthCheck;
import dev.outpost.device.model.ModelUpdater;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

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
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private boolean nudged;
    private volatile boolean stopping;
    private volatile String lastOutcome = "nothing to install yet";

    public ModelWorker(OutpostDevice device, HealthCheck health, long intervalMs) {
        this.device = device;
        this.health = health;
        this.intervalMs = intervalMs;
    }

    public void nudge() {
        lock.lock();
        try {
            nudged = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    public void stop() {
        stopping = true;
        nudge();
    }

    public String lastOutcome() {
        return lastOutcome;
    }

    @Override
    public void run() {
        long backoffMs = SyncWorker.BACKOFF_FIRST_MS;
        while (!stopping) {
            long waitMs = intervalMs;
            ModelUpdater models = device.models();
            for (String artifact : models.artifacts()) {
                if (stopping || !models.wants(artifact)) {
                    continue;
                }
                try {
                    lastOutcome = models.update(artifact, health, (phase, done, steps, bytes, planned) -> {})
                            .describe();
                    backoffMs = SyncWorker.BACKOFF_FIRST_MS;
                } catch (DeviceException e) {
                    lastOutcome = artifact + ": " + e.getMessage();
                    System.err.println("outpost run: model " + lastOutcome);
                    waitMs = (long) (jitter.nextDouble() * backoffMs);
                    backoffMs = Math.min(SyncWorker.BACKOFF_MAX_MS, backoffMs * 2);
                }
            }
            await(waitMs);
        }
    }

    private void await(long ms) {
        lock.lock();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            while (!nudged && !stopping) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !wake.await(left, TimeUnit.NANOSECONDS) && System.nanoTime() >= deadline) {
                    break;
                }
            }
            nudged = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopping = true;
        } finally {
            lock.unlock();
        }
    }
}
