package dev.outpost.model.clock;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.Objects;

/**
 * A hybrid logical clock reading: physical milliseconds since the epoch, a logical counter that orders events within
 * one millisecond, and the device that made it. Readings are totally ordered by (physical, logical, device id), so
 * two devices can never tie and wall-clock time alone never decides.
 */
public record Hlc(long physicalMs, int logical, String deviceId) implements Comparable<Hlc> {
    /** 48 bits of milliseconds reach the year 10889. */
    public static final long PHYSICAL_MS_MAX = (1L << 48) - 1;

    public static final int LOGICAL_MAX = 0xFFFF;

    public Hlc {
        Objects.requireNonNull(deviceId, "deviceId");
        if (physicalMs < 0 || physicalMs > PHYSICAL_MS_MAX) {
            throw new OutpostException(ErrorCode.INVALID_CLOCK, "clock physical time out of range: " + physicalMs);
        }
        if (logical < 0 || logical > LOGICAL_MAX) {
            throw new OutpostException(ErrorCode.INVALID_CLOCK, "clock logical counter out of range: " + logical);
        }
        if (deviceId.isEmpty()) {
            throw new OutpostException(ErrorCode.INVALID_CLOCK, "clock without a device id");
        }
    }

    @Override
    public int compareTo(Hlc other) {
        // Spelled out rather than a Comparator chain: merges compare clocks more than anything else, and the chain's
        // lambdas are generated at run time on every device start.
        if (physicalMs != other.physicalMs) {
            return Long.compare(physicalMs, other.physicalMs);
        }
        if (logical != other.logical) {
            return Integer.compare(logical, other.logical);
        }
        return deviceId.compareTo(other.deviceId);
    }

    public boolean isAfter(Hlc other) {
        return compareTo(other) > 0;
    }

    /** The larger of two readings; {@code null} counts as the smallest. */
    public static Hlc max(Hlc a, Hlc b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        return a.compareTo(b) >= 0 ? a : b;
    }

    /** Physical and logical parts in one sortable long (device id aside). */
    public long packedTime() {
        return (physicalMs << 16) | logical;
    }

    /** Text form {@code physicalMs:logical:deviceId}, used by the JSON wire format and the SQLite store. */
    @Override
    public String toString() {
        return physicalMs + ":" + logical + ":" + deviceId;
    }

    /** Parses {@link #toString()}; {@link ErrorCode#INVALID_CLOCK} on anything else. */
    public static Hlc parse(String text) {
        int a = text.indexOf(':');
        int b = a < 0 ? -1 : text.indexOf(':', a + 1);
        if (a <= 0 || b <= a + 1 || b == text.length() - 1) {
            throw new OutpostException(
                    ErrorCode.INVALID_CLOCK, "clock '" + text + "' is not of the form physicalMs:logical:deviceId");
        }
        try {
            return new Hlc(
                    Long.parseLong(text.substring(0, a)),
                    Integer.parseInt(text.substring(a + 1, b)),
                    text.substring(b + 1));
        } catch (NumberFormatException e) {
            throw new OutpostException(
                    ErrorCode.INVALID_CLOCK, "clock '" + text + "' is not of the form physicalMs:logical:deviceId");
        }
    }
}
