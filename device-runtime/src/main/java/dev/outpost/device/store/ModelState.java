package dev.outpost.device.store;

import dev.outpost.device.model.install.ModelInstall;
import java.util.List;
import java.util.Optional;

/**
 * What a device remembers about each model artifact (its kept assignment, anti-rollback marks, outcomes) and the
 * install in progress, if any. Artifact names are taken as they are (they may hold '.', '-', '_'). Every method runs
 * inside the caller's transaction and throws a {@code DeviceException} with exit code 5 when the store fails; a
 * missing artifact reads as {@link ArtifactState#NONE}, and updates create it.
 */
public interface ModelState {
    /**
     * One artifact's remembered state; each field null when never set.
     *
     * @param assignment the newest signed assignment received, base64 as it arrived
     * @param highestVersion the highest version installed (anti-rollback)
     * @param highestIssuedAtMs the issue time of the assignment that installed it
     * @param failedVersion a version whose health check failed (the worker does not retry it)
     * @param holdVersion a version an operator rolled back from
     * @param refusedAssignment the content of an assignment refused for good (version|sha256|rollback)
     */
    record ArtifactState(
            String assignment,
            Long highestVersion,
            Long highestIssuedAtMs,
            Long failedVersion,
            Long holdVersion,
            String refusedAssignment,
            String lastOutcome) {
        public static final ArtifactState NONE = new ArtifactState(null, null, null, null, null, null, null);

        public ArtifactState withAssignment(String v) {
            return new ArtifactState(
                    v, highestVersion, highestIssuedAtMs, failedVersion, holdVersion, refusedAssignment, lastOutcome);
        }

        public ArtifactState withHighest(long version, long issuedAtMs) {
            return new ArtifactState(
                    assignment, version, issuedAtMs, failedVersion, holdVersion, refusedAssignment, lastOutcome);
        }

        public ArtifactState withFailedVersion(long v) {
            return new ArtifactState(
                    assignment, highestVersion, highestIssuedAtMs, v, holdVersion, refusedAssignment, lastOutcome);
        }

        public ArtifactState withHoldVersion(long v) {
            return new ArtifactState(
                    assignment, highestVersion, highestIssuedAtMs, failedVersion, v, refusedAssignment, lastOutcome);
        }

        public ArtifactState withRefusedAssignment(String v) {
            return new ArtifactState(
                    assignment, highestVersion, highestIssuedAtMs, failedVersion, holdVersion, v, lastOutcome);
        }

        public ArtifactState withLastOutcome(String v) {
            return new ArtifactState(
                    assignment, highestVersion, highestIssuedAtMs, failedVersion, holdVersion, refusedAssignment, v);
        }
    }

    /** The artifact's state, {@link ArtifactState#NONE} when nothing is remembered. */
    ArtifactState get(String artifact);

    /** Replaces the artifact's state (creates it when missing). */
    void put(String artifact, ArtifactState state);

    /** Every artifact with remembered state, by name. */
    List<String> findArtifacts();

    Optional<ModelInstall> getInstall(String artifact);

    /** Saves the whole install record (its progress with it). */
    void saveInstall(ModelInstall install);

    /**
     * Saves only the progress (phase, steps, bytes, tries) of an install whose record is saved: a download commits
     * progress several times a second, and rewriting the record copied its signed documents at every commit. Does
     * nothing useful for an artifact without a saved record (the progress is read only with one).
     */
    void saveInstallProgress(ModelInstall install);

    /** Forgets the install (no-op when there is none). */
    void deleteInstall(String artifact);
}
