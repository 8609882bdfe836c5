package dev.outpost.device.model;

import dev.outpost.device.model.install.ModelInstall;
import java.util.List;

/**
 * What {@code model status} shows: per artifact, its slots, what is assigned, any install in progress and what the
 * device remembers of it; and the report queue.
 */
public record ModelStatus(List<Artifact> artifacts, long reportsQueued, long reportsDropped) {
    /** A slot: its name, and its version's figures when its manifest verifies ({@code version} null otherwise). */
    public record Slot(String name, Long version, long sizeBytes, String sha256) {}

    /** The kept assignment as it reads (unverified: {@code model update} checks it before acting). */
    public record Desired(long version, boolean rollback, long expiresAtMs) {}

    /**
     * One artifact.
     *
     * @param error why its slots could not be read, or null
     * @param assigned whether an assignment is kept for it; {@code desired} is null when that one cannot be read
     * @param refused whether the kept assignment is the very one a permanent refusal was about
     */
    public record Artifact(
            String artifact,
            Slot active,
            Slot kept,
            String error,
            boolean assigned,
            Desired desired,
            boolean refused,
            ModelInstall install,
            Long highestVersion,
            String lastOutcome) {}
}
