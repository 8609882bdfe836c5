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
        DELTA,
        /** A scope's rows as of a feed cursor (ScopeSnapshot), tens of MB: stored from a file, served by ranges. */
        SNAPSHOT
    }

    /**
     * Stores {@code bytes} under {@code hash}, durably; {@code true} when it was not stored before (writers racing on
     * one new blob may each answer {@code true}: the blob is whole either way).
     */
    boolean put(Kind kind, Sha256 hash, byte[] bytes) throws IOException;

    /** As {@link #put}, from a file (too large to hold in memory): the file's bytes under {@code hash}. */
    boolean putFile(Kind kind, Sha256 hash, Path file) throws IOException;

    boolean contains(Kind kind, Sha256 hash) throws IOException;

    /** The blob's length in bytes, or empty when it is not stored. */
    OptionalLong length(Kind kind, Sha256 hash) throws IOException;

    /** The whole blob, for the service's own use (delta computation); blobs are a few hundred KiB at most. */
    Optional<byte[]> read(Kind kind, Sha256 hash) throws IOException;

    /** Removes the blob (no-op when absent). Only the garbage collection of unreferenced blobs calls it. */
    void delete(Kind kind, Sha256 hash) throws IOException;

    /** Every blob of {@code kind} stored now, each once, in no particular order; streamed, not held. */
    void forEach(Kind kind, BlobVisitor visitor) throws IOException;

    @FunctionalInterface
    interface BlobVisitor {
        void visit(Sha256 hash) throws IOException;
    }

    /** The blob, to serve whole or in part; empty only when it is not stored. */
    Optional<Blob> blob(Kind kind, Sha256 hash) throws IOException;

    /**
     * A stored blob to serve: its length, a local file holding it for zero-copy serving (empty for a store without
     * local files), and its bytes by range.
     */
    record Blob(long length, Optional<Path> localFile, RangeOpener opener) {
        /**
         * Streams {@code count} bytes from offset {@code first}, without holding them in memory; the caller closes
         * the stream.
         */
        public InputStream open(long first, long count) throws IOException {
            return opener.open(first, count);
        }
    }

    @FunctionalInterface
    interface RangeOpener {
        InputStream open(long first, long count) throws IOException;
    }
}
