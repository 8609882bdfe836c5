package dev.outpost.model.rollout;

/**
 * Where a rollout stands. Waves {@code 0 .. openWaves-1} are open: their devices should run the new version (until
 * a rollback).
 *
 * @param reason why it is paused or waiting, for people; empty otherwise
 */
public record RolloutState(Status status, int openWaves, String reason) {
    public enum Status {
        DRAFT,
        RUNNING,
        PAUSED,
        COMPLETED,
        ROLLED_BACK
    }

    public RolloutState {
        reason = reason == null ? "" : reason;
        if (openWaves < 0 || (status == Status.DRAFT) != (openWaves == 0)) {
            throw new IllegalArgumentException("a draft has no open wave and only a draft has none");
        }
    }

    public static RolloutState draft() {
        return new RolloutState(Status.DRAFT, 0, "");
    }
}
