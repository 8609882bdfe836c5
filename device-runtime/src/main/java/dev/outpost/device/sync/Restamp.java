package dev.outpost.device.sync;

import dev.outpost.model.change.Change;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Which clocks to replace when the service refused changes for clock skew: a pure function of the device's unsent
 * changes, the server's ceiling (its time plus the skew it accepts) and the newest clock the device has shared.
 *
 * <p>Every clock of this device's unsent changes that runs past the ceiling gets a new one. The new clocks follow
 * every clock the device has shared (pushed and acknowledged, or pulled) and the ceiling, and keep the old clocks'
 * order among themselves. The replaced clocks never left the device, and every other clock a row holds is below the
 * new ones, so the mapping keeps the order of every clock in every row: {@code ClockRelabel} turns each stored row
 * into exactly the state the re-stamped changes merge to. No value changes, nothing is merged again.
 */
public final class Restamp {
    private Restamp() {}

    /** Old clock to new; empty when nothing runs past the ceiling. {@code last} is the newest new clock, or null. */
    public record Mapping(Map<Hlc, Hlc> to, Hlc last) {
        public Hlc apply(Hlc h) {
            return to.getOrDefault(h, h);
        }
    }

    public static Mapping plan(List<Change> unsent, String deviceId, long ceilingMs, Hlc shared) {
        TreeSet<Hlc> ahead = new TreeSet<>();
        for (Change c : unsent) {
            if (c.deviceId().equals(deviceId) && c.clock().physicalMs() > ceilingMs) {
                ahead.add(c.clock());
            }
        }
        if (ahead.isEmpty()) {
            return new Mapping(Map.of(), null);
        }
        Hlc start = Hlc.max(new Hlc(ceilingMs, Hlc.LOGICAL_MAX, deviceId), shared);
        HybridClock fresh = new HybridClock(deviceId, () -> 0L, start);
        Map<Hlc, Hlc> to = new HashMap<>();
        for (Hlc h : ahead) {
            to.put(h, fresh.now());
        }
        return new Mapping(to, fresh.last());
    }
}
