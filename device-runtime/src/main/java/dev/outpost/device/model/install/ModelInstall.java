package dev.outpost.device.model.install;

/**
 * An install in progress (one per artifact): what is being installed, from which version, into which slot, and its
 * {@link InstallState}. The signed documents are kept with it (the assignment; the delta index), except the target
 * manifest, which lives in the slot's files ({@code manifest} is non-empty only in records an older runtime wrote).
 */
public record ModelInstall(
        String artifact,
        long targetVersion,
        Long fromVersion,
        byte[] assignment,
        byte[] manifest,
        byte[] deltaIndex,
        String slot,
        InstallState state,
        long bytesDownloaded) {

    /**
     * The same install without its signed documents, for the download loop, which saves only progress: the loop
     * holds the decoded ones already.
     */
    public ModelInstall withoutDocuments() {
        return new ModelInstall(artifact, targetVersion, fromVersion, null, null, null, slot, state, bytesDownloaded);
    }

    /** The same install in {@code next}, with {@code bytes} downloaded. */
    public ModelInstall in(InstallState next, long bytes) {
        return new ModelInstall(
                artifact, targetVersion, fromVersion, assignment, manifest, deltaIndex, slot, next, bytes);
    }

    /** The same install in {@code next}. */
    public ModelInstall in(InstallState next) {
        return in(next, bytesDownloaded);
    }
}
