package dev.outpost.sync.artifact;

import dev.outpost.model.artifact.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

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

    /**
     * Stores {@code bytes} under {@code hash}, durably; {@code true} when it was not stored before (writers racing on
     * one new blob may each answer {@code true}: the blob is whole either way).
     */
    boolean put(Kind kind, Sha256 hash, byte[] bytes) throws IOException;

    boolean contains(Kind kind, Sha256 hash) throws IOException;

    /** The blob's length in bytes, or empty when it is not stored. */
    OptionalLong length(Kind kind, Sha256 hash) throws IOException;

    /** The whole blob, for the service's own use (delta computation); blobs are a few hundred KiB at most. */
    Optional<byte[]> read(Kind kind, Sha256 hash) throws IOException;

    /** The blob, to serve whole or in part; empty only when it is not stored. */
    Optional<Blob> blob(Kind kind, Sha256 hash) throws IOException;

    /** A stored blob to serve. */
    interface Blob {
        long length();

        /** A local file holding the blob, for zero-copy serving; empty for a store without local files. */
        Optional<Path> localFile();

        /**
         * Streams {@code length} bytes from offset {@code first}, without holding them in memory; the caller closes
         * the stream.
         */
        InputStream open(long first, long length) throws IOException;
    }
}
