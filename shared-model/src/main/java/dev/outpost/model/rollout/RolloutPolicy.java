package dev.outpost.model.rollout;

import java.time.Duration;
import java.util.List;

/**
 * How a rollout spreads and when it stops.
 *
 * @param wavePercents cumulative share of the fleet reached by each wave, ascending, the last 100 (e.g. 1, 10, 50, 100)
 * @param successHealthyShare a wave succeeds when this share of its devices reported healthy
 * @param successMinReports ... and at least this many of them did
 * @param autoPromoteAfter the soak time: a healthy newest wave that has been open at least this long opens the next
 *     one by itself; {@code null} (the default) leaves every promotion to an operator
 * @param errorFailureShare the rollout pauses itself when failures exceed this share of an open wave's reports
 * @param errorMinReports ... once that wave has at least this many reports (one early failure is not a trend)
 */
public record RolloutPolicy(
        List<Double> wavePercents,
        double successHealthyShare,
        int successMinReports,
        Duration autoPromoteAfter,
        double errorFailureShare,
        int errorMinReports) {
    public static final int WAVES_MAX = 10;

    public RolloutPolicy {
        wavePercents = List.copyOf(wavePercents);
        if (wavePercents.isEmpty() || wavePercents.size() > WAVES_MAX) {
            throw new IllegalArgumentException("a rollout has 1 to " + WAVES_MAX + " waves");
        }
        double last = 0;
        for (double p : wavePercents) {
            if (!(p > last) || p > 100) {
                throw new IllegalArgumentException("wave percentages must rise strictly up to 100: " + wavePercents);
            }
            last = p;
        }
        if (last != 100) {
            throw new IllegalArgumentException("the last wave must reach 100% of the fleet");
        }
        if (!(successHealthyShare > 0 && successHealthyShare <= 1)
                || !(errorFailureShare > 0 && errorFailureShare <= 1)) {
            throw new IllegalArgumentException("shares are in (0, 1]");
        }
        if (autoPromoteAfter != null && autoPromoteAfter.isNegative()) {
            throw new IllegalArgumentException("the soak time before automatic promotion is not negative");
        }
        if (successMinReports < 0 || errorMinReports < 1) {
            throw new IllegalArgumentException("report minimums: success >= 0, error >= 1");
        }
    }

    /**
     * 1%, 10%, 50%, 100%; a wave is healthy at 95% healthy reports; an operator promotes (no automatic promotion);
     * pause above 10% failures after 5 reports.
     */
    public static RolloutPolicy standard() {
        return new RolloutPolicy(List.of(1.0, 10.0, 50.0, 100.0), 0.95, 1, null, 0.10, 5);
    }

    /** This policy with other waves (cumulative percentages). */
    public RolloutPolicy withWaves(List<Double> waves) {
        return new RolloutPolicy(
                waves, successHealthyShare, successMinReports, autoPromoteAfter, errorFailureShare, errorMinReports);
    }

    /** This policy with automatic promotion after {@code soak} ({@code null}: off). */
    public RolloutPolicy withAutoPromoteAfter(Duration soak) {
        return new RolloutPolicy(
                wavePercents, successHealthyShare, successMinReports, soak, errorFailureShare, errorMinReports);
    }

    /** The wave a device belongs to: the first whose cumulative share covers its bucket. */
    public int waveOf(String deviceId) {
        return waveOfBucket(WaveHash.bucket(deviceId));
    }

    /** The wave of a {@link WaveHash} bucket. */
    public int waveOfBucket(int bucket) {
        for (int i = 0; i < wavePercents.size(); i++) {
            if (bucket < Math.round(wavePercents.get(i) * WaveHash.BUCKETS / 100)) {
                return i;
            }
        }
        return wavePercents.size() - 1;
    }
}
