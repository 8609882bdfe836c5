package dev.outpost.sync.artifact;

import dev.outpost.model.artifact.Sha256;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Content-addressed blobs: chunk frames and delta frames, each under the SHA-256 that names it (a chunk's raw bytes,
 * a delta's frame). Blocking I/O: call it from a worker thread, never the event loop.
 *
 * <p>Contract: {@link #put} is idempotent (storing what is there already is a no-op that answers {@code false}) and
 * atomic (a reader sees a whole blob or none, also after a crash); blobs are never changed once stored; a blob that
 * is absent is {@link Optional#empty()}, never an exception.
 */
public interface ChunkStore {

    enum Kind {
        CHUNK,
        DELTA
    }

    /** Stores {@code bytes} under {@code hash}, durably; {@code true} when it was not stored before. */
    boolean put(Kind kind, Sha256 hash, byte[] bytes) throws IOException;

    boolean contains(Kind kind, Sha256 hash) throws IOException;

    /** The blob's length in bytes, or empty when it is not stored. */
    java.util.OptionalLong length(Kind kind, Sha256 hash) throws IOException;

    /** The whole blob, for the service's own use (delta computation); blobs are a few hundred KiB at most. */
    Optional<byte[]> read(Kind kind, Sha256 hash) throws IOException;

    /** A local file holding the blob, for zero-copy serving; empty when absent or when the store is not local. */
    Optional<Path> file(Kind kind, Sha256 hash);
}
