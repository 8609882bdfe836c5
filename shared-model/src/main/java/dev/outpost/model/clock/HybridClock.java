package dev.outpost.model.clock;

import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * The clock of one device (or of the server): issues strictly increasing {@link Hlc} readings even when the wall
 * clock stalls or goes backwards, and moves past every reading it receives (Kulkarni et al., "Logical Physical
 * Clocks"). Not thread-safe: callers serialize access (the device does so inside its write transaction).
 *
 * <p>State is the last reading issued; persist {@link #last()} and pass it back to the constructor to carry the
 * clock across restarts.
 */
public final class HybridClock {
    private final String deviceId;
    private final LongSupplier wallClockMs;
    private long lastPhysicalMs;
    private int lastLogical;

    /**
     * @param deviceId the owner of every reading issued
     * @param wallClockMs the physical clock, e.g. {@code System::currentTimeMillis}
     * @param last the last reading issued before a restart, or {@code null} for a new device
     */
    public HybridClock(String deviceId, LongSupplier wallClockMs, Hlc last) {
        this.deviceId = Objects.requireNonNull(deviceId);
        this.wallClockMs = Objects.requireNonNull(wallClockMs);
        if (last != null) {
            this.lastPhysicalMs = last.physicalMs();
            this.lastLogical = last.logical();
        }
    }

    public String deviceId() {
        return deviceId;
    }

    /** A new reading for a local event, later than every reading issued or received before. */
    public Hlc now() {
        long wall = wallClockMs.getAsLong();
        if (wall > lastPhysicalMs) {
            lastPhysicalMs = wall;
            lastLogical = 0;
        } else {
            tick();
        }
        return last();
    }

    /**
     * Moves this clock past a reading received from elsewhere, so the next local reading orders after it. Returns
     * the new last reading.
     */
    public Hlc receive(Hlc remote) {
        long wall = wallClockMs.getAsLong();
        long physical = Math.max(wall, Math.max(lastPhysicalMs, remote.physicalMs()));
        if (physical == lastPhysicalMs && physical == remote.physicalMs()) {
            lastLogical = Math.max(lastLogical, remote.logical());
            tick();
        } else if (physical == lastPhysicalMs) {
            tick();
        } else if (physical == remote.physicalMs()) {
            lastPhysicalMs = physical;
            lastLogical = remote.logical();
            tick();
        } else {
            lastPhysicalMs = physical;
            lastLogical = 0;
        }
        return last();
    }

    /** The last reading issued; the state to persist. */
    public Hlc last() {
        return new Hlc(lastPhysicalMs, lastLogical, deviceId);
    }

    /** How far this clock's physical part runs ahead of the wall clock, in ms (0 when it does not). */
    public long driftAheadMs() {
        return Math.max(0, lastPhysicalMs - wallClockMs.getAsLong());
    }

    private void tick() {
        if (lastLogical == Hlc.LOGICAL_MAX) {
            // 65,536 events in one millisecond: borrow the next millisecond rather than wrap.
            lastPhysicalMs++;
            lastLogical = 0;
        } else {
            lastLogical++;
        }
    }
}
