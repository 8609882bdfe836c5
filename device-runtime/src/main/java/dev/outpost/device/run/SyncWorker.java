package dev.outpost.device.run;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import java.util.Random;

/**
 * Background sync for {@code outpost run}: syncs at once, then every {@code intervalMs}, right after a local write
 * ({@link #nudge}), and after a failure with exponential backoff and full jitter (1 s doubling to at most 5 min),
 * so a failed upload is retried without waiting for a new write. Refusals are not retried in a loop: the refused
 * changes are set aside by the sync itself and the next round carries on with the rest.
 */
public final class SyncWorker implements Runnable {
    static final long BACKOFF_FIRST_MS = 1_000;
    static final long BACKOFF_MAX_MS = 300_000;

    private final OutpostDevice device;
    private final long intervalMs;
    private final Random jitter = new Random();
    private final Wakeup wakeup = new Wakeup();
    private volatile String lastOutcome = "not synced yet";
    private volatile Runnable afterSync = () -> {};

    public SyncWorker(OutpostDevice device, long intervalMs) {
        this.device = device;
        this.intervalMs = intervalMs;
    }

    /** Runs after every sync that reached the server (e.g. to wake the model worker with fresh assignments). */
    public void afterSync(Runnable action) {
        this.afterSync = action;
    }

    /** A local write happened: sync soon instead of at the next interval. */
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
        long backoffMs = BACKOFF_FIRST_MS;
        while (!wakeup.stopping()) {
            long waitMs;
            try {
                OutpostDevice.SyncResult r = device.sync();
                lastOutcome = "ok: pushed " + r.pushed() + ", pulled " + r.pulled();
                backoffMs = BACKOFF_FIRST_MS;
                waitMs = intervalMs;
                afterSync.run();
            } catch (OutpostDevice.SyncRefused refused) {
                lastOutcome = refused.getMessage();
                afterSync.run();
                backoffMs = BACKOFF_FIRST_MS;
                waitMs = intervalMs;
            } catch (DeviceException e) {
                lastOutcome = e.getMessage();
                if (e.exitCode() == ExitCode.STORAGE) {
                    System.err.println("outpost run: " + e.getMessage());
                }
                // Full jitter: devices that lost the link together do not all come back at the same instant.
                waitMs = (long) (jitter.nextDouble() * backoffMs);
                backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
            }
            wakeup.await(waitMs);
        }
    }
}
