package dev.outpost.device.clock;

import dev.outpost.device.store.ChangeLog;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import java.util.function.LongSupplier;

/**
 * The device's hybrid logical clock and its offset from the server's time. Every method runs inside the caller's
 * transaction.
 *
 * <p>A local write logs its changes with the clock it read, so the log is where that clock is kept (saving it in the
 * settings as well cost every write a page of its own): the clock continues from the larger of the clock saved by
 * the last sync (which took in the clocks it received) and the newest logged change's. Logged changes are never
 * deleted, and re-stamping rewrites them in their order, so the newest one is the highest clock this device stamped.
 */
public final class DeviceClock {
    /**
     * A sync answer whose server clock is this far behind the device's marks the device's clock as running ahead,
     * and the device stamps from the server's time from then on. (Less is taken for the network's delay.)
     */
    public static final long AHEAD_NOTICED_MS = 60_000;

    private final String deviceId;
    private final Settings settings;
    private final ChangeLog log;
    private final LongSupplier wallMs;

    public DeviceClock(String deviceId, Settings settings, ChangeLog log, LongSupplier wallMs) {
        this.deviceId = deviceId;
        this.settings = settings;
        this.log = log;
        this.wallMs = wallMs;
    }

    /** The clock to stamp with now, continuing from everything this device stamped or received. */
    public HybridClock current() {
        Hlc synced = settings.get(Setting.CLOCK).map(Hlc::parse).orElse(null);
        Hlc logged = log.newestClock().map(Hlc::parse).orElse(null);
        long offset = offsetMs();
        return new HybridClock(deviceId, () -> wallMs.getAsLong() + offset, Hlc.max(synced, logged));
    }

    /** Saves the clock after a sync took in received clocks. */
    public void save(Hlc last) {
        settings.put(Setting.CLOCK, last.toString());
    }

    /** What the device adds to its wall clock: 0, or minus how far it was last found running ahead of the server. */
    public long offsetMs() {
        return offsetMs(settings);
    }

    /** As {@link #offsetMs()}, for those that read the corrected time without stamping (model trust's expiry). */
    public static long offsetMs(Settings settings) {
        return settings.get(Setting.CLOCK_OFFSET_MS).map(Long::parseLong).orElse(0L);
    }

    /**
     * Takes the server's time from an answer: a clock running ahead of it by more than {@code toleranceMs} is
     * corrected by the offset, and the offset of any other is 0.
     */
    public void noteServerTime(long serverTimeMs, long toleranceMs) {
        long behind = serverTimeMs - wallMs.getAsLong();
        settings.put(Setting.CLOCK_OFFSET_MS, Long.toString(behind < -toleranceMs ? behind : 0));
    }

    /** The newest clock this device has shared (pushed and acknowledged, or pulled), or null. */
    public Hlc shared() {
        return settings.get(Setting.CLOCK_SHARED).map(Hlc::parse).orElse(null);
    }

    public void saveShared(Hlc shared) {
        if (shared != null) {
            settings.put(Setting.CLOCK_SHARED, shared.toString());
        }
    }

    public String deviceId() {
        return deviceId;
    }
}
