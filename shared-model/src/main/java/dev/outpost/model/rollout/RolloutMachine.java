package dev.outpost.model.rollout;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.rollout.RolloutState.Status;
import java.time.Duration;
import java.util.List;

/**
 * The rollout state machine, pure: every operator action and every evaluation of device reports is a function from
 * a state to the next state. {@code docs/rollouts.md} has the diagram.
 *
 * <pre>
 * DRAFT --start--> RUNNING(1 wave open) --healthy and soaked (auto-promotion on)--> RUNNING(+1 wave) ... --last wave ok--> COMPLETED
 * RUNNING --error threshold--> PAUSED --resume--> RUNNING;  RUNNING --pause--> PAUSED;  RUNNING/PAUSED --promote--> +1 wave
 * RUNNING/PAUSED/COMPLETED --roll back--> ROLLED_BACK (terminal)
 * </pre>
 */
public final class RolloutMachine {
    private RolloutMachine() {}

    public static RolloutState start(RolloutState s) {
        require(s, Status.DRAFT, "start");
        return new RolloutState(Status.RUNNING, 1, "");
    }

    /** Opens the next wave now (an operator's approval); opening the last one leaves completion to the reports. */
    public static RolloutState promote(RolloutState s, RolloutPolicy policy) {
        if (s.status() != Status.RUNNING && s.status() != Status.PAUSED) {
            throw refused("promote", s);
        }
        if (s.openWaves() >= policy.wavePercents().size()) {
            throw new OutpostException(ErrorCode.OPERATION_NOT_ALLOWED, "every wave is open already");
        }
        return new RolloutState(Status.RUNNING, s.openWaves() + 1, "");
    }

    public static RolloutState pause(RolloutState s, String reason) {
        require(s, Status.RUNNING, "pause");
        return new RolloutState(Status.PAUSED, s.openWaves(), reason);
    }

    public static RolloutState resume(RolloutState s) {
        require(s, Status.PAUSED, "resume");
        return new RolloutState(Status.RUNNING, s.openWaves(), "");
    }

    /** Back to the previous version for every device the rollout reached; nothing follows a rollback. */
    public static RolloutState rollBack(RolloutState s, String reason) {
        if (s.status() == Status.DRAFT || s.status() == Status.ROLLED_BACK) {
            throw refused("roll back", s);
        }
        return new RolloutState(Status.ROLLED_BACK, s.openWaves(), reason);
    }

    /**
     * Applies the policy to the reports of each wave ({@code reports.get(i)} for wave i): a failure share above the
     * threshold in any open wave pauses the rollout; the newest open wave succeeding completes the rollout when it is
     * the last, else opens the next once it has been open for the policy's soak time ({@code newestWaveOpenFor}), or
     * waits for an operator when automatic promotion is off. Other states are returned unchanged.
     */
    public static RolloutState evaluate(
            RolloutState s, RolloutPolicy policy, List<WaveReport> reports, Duration newestWaveOpenFor) {
        if (s.status() != Status.RUNNING) {
            return s;
        }
        for (int i = 0; i < s.openWaves(); i++) {
            WaveReport r = reports.get(i);
            if (r.reports() >= policy.errorMinReports()
                    && (double) r.failed() / r.reports() > policy.errorFailureShare()) {
                return new RolloutState(
                        Status.PAUSED,
                        s.openWaves(),
                        String.format(
                                "emergency pause: wave %d has %d failures in %d reports (over %.0f%%)",
                                i + 1, r.failed(), r.reports(), policy.errorFailureShare() * 100));
            }
        }
        WaveReport newest = reports.get(s.openWaves() - 1);
        boolean succeeded = newest.healthy() >= policy.successMinReports()
                && newest.healthy() >= Math.ceil(policy.successHealthyShare() * newest.devices());
        if (!succeeded) {
            // A running rollout's reason only ever says its newest wave is healthy: no longer, once it is not.
            return s.reason().isEmpty() ? s : new RolloutState(Status.RUNNING, s.openWaves(), "");
        }
        if (s.openWaves() == policy.wavePercents().size()) {
            return new RolloutState(Status.COMPLETED, s.openWaves(), "");
        }
        String healthy = "wave " + s.openWaves() + " is healthy: ";
        if (policy.autoPromoteAfter() == null) {
            return new RolloutState(Status.RUNNING, s.openWaves(), healthy + "waiting for an operator to promote");
        }
        if (newestWaveOpenFor.compareTo(policy.autoPromoteAfter()) < 0) {
            // A stable text (no countdown), so re-evaluating a soaking wave is not a change of state.
            return new RolloutState(
                    Status.RUNNING,
                    s.openWaves(),
                    healthy + "the next wave opens by itself after a soak of " + soak(policy.autoPromoteAfter()));
        }
        return new RolloutState(Status.RUNNING, s.openWaves() + 1, "");
    }

    /** A soak time for people: 45s, 30m, 2h30m. */
    static String soak(Duration d) {
        long s = d.toSeconds();
        if (s < 60) {
            return s + "s";
        }
        long h = s / 3600;
        long m = (s % 3600) / 60;
        return (h > 0 ? h + "h" : "") + (m > 0 ? m + "m" : "") + (s % 60 > 0 ? s % 60 + "s" : "");
    }

    /** Whether the rollout has reached the device (its wave was opened). */
    public static boolean touched(RolloutState s, RolloutPolicy policy, String deviceId) {
        return policy.waveOf(deviceId) < s.openWaves();
    }

    /** The version the device should run under this rollout. */
    public static long desiredVersion(
            RolloutState s, RolloutPolicy policy, long version, long previousVersion, String deviceId) {
        if (s.status() == Status.ROLLED_BACK || !touched(s, policy, deviceId)) {
            return previousVersion;
        }
        return version;
    }

    private static void require(RolloutState s, Status expected, String action) {
        if (s.status() != expected) {
            throw refused(action, s);
        }
    }

    private static OutpostException refused(String action, RolloutState s) {
        return new OutpostException(
                ErrorCode.OPERATION_NOT_ALLOWED,
                "cannot " + action + " a rollout that is " + s.status().name().toLowerCase(java.util.Locale.ROOT));
    }
}
