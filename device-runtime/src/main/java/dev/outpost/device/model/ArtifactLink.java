package dev.outpost.device.model;

import java.nio.file.Path;

/**
 * Where model installs get their documents and chunks (docs/artifacts.md, "Download"). Contract:
 * <ul>
 *   <li>{@link #fetch} and {@link #fetchTo} return a whole body, at most the given size, or throw: a {@code
 *       DeviceException} with exit code 3 when the service cannot be reached or keeps failing (nothing was written
 *       that a retry would not write again), with exit code 4 when it refuses (the problem's code and message).
 *       Bodies are not checked here: the caller verifies every chunk and document against the signed manifest.
 *   <li>{@link #fetchTo} leaves the file synced when it returns; a failed write to the file is an {@code
 *       UncheckedIOException} (the device's storage, not the link).
 *   <li>{@link #postJson} never throws: it returns the answer's status, or -1 when no answer came.
 *   <li>{@link #bytesDownloaded} counts every byte that crossed the link, resumed parts included.
 *   <li>Calls may come from several threads at once (downloads are prefetched).
 * </ul>
 * {@link ArtifactClient} is the HTTP adapter.
 */
public interface ArtifactLink {
    long bytesDownloaded();

    byte[] fetch(String path, int maxBytes);

    void fetchTo(String path, long maxBytes, Path file);

    /**
     * As {@link #fetchTo}, for a document named by its content (a snapshot by its SHA-256): the bytes {@code file}
     * holds already (a download an earlier process cut short) are kept and only the rest is asked for. The caller checks
     * the whole against its hash.
     */
    default void resumeTo(String path, long maxBytes, Path file) {
        fetchTo(path, maxBytes, file);
    }

    /** A small JSON document (signing key, assignments). */
    String getJson(String path);

    int postJson(String path, String json);
}
