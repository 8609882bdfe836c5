package dev.outpost.device.run;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.sync.SyncRefused;
import dev.outpost.device.sync.SyncResult;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Background sync for {@code outpost run}: syncs at once, then every {@code intervalMs}, right after a local write
 * ({@link #nudge}), and after a failure with exponential backoff and full jitter (1 s doubling to at most 5 min),
 * so a failed upload is retried without waiting for a new write. Refusals are not retried in a loop: the refused
 * changes are set aside by the sync itself and the next round carries on with the rest.
 */
public final class SyncWorker implements Runnable {
    private final Supplier<SyncResult> sync;
    private final long intervalMs;
    private final Random jitter = new Random();
    private final Wakeup wakeup = new Wakeup();
    private volatile String lastOutcome = "not synced yet";
    private volatile Runnable afterSync = () -> {};

    /** {@code sync} runs one sync (each reads the credential and server again, and may upgrade the schema). */
    public SyncWorker(Supplier<SyncResult> sync, long intervalMs) {
        this.sync = sync;
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
        Backoff backoff = new Backoff(jitter);
        while (!wakeup.stopping()) {
            long waitMs;
            try {
                SyncResult r = sync.get();
                lastOutcome = "ok: pushed " + r.pushed() + ", pulled " + r.pulled();
                backoff.reset();
                waitMs = intervalMs;
                afterSync.run();
            } catch (SyncRefused refused) {
                lastOutcome = refused.getMessage();
                afterSync.run();
                backoff.reset();
                waitMs = intervalMs;
            } catch (DeviceException e) {
                lastOutcome = e.getMessage();
                if (e.exitCode() == ExitCode.STORAGE) {
                    System.err.println("outpost run: " + e.getMessage());
                }
                waitMs = backoff.next();
            } catch (RuntimeException e) {
                // A fault of this runtime (a malformed answer it did not expect, say): the loop goes on, backs off
                // and shows the failure in status; nothing was committed by the sync that threw.
                lastOutcome = "unexpected failure: " + e;
                System.err.println("outpost run: sync failed unexpectedly: " + e);
                waitMs = backoff.next();
            }
            wakeup.await(waitMs);
        }
    }
}
