package dev.outpost.model.artifact;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a stream of any length into a {@link Manifest}, handing each chunk and its zstd frame to a sink as it goes;
 * memory stays at a few chunks whatever the size.
 */
public final class ManifestBuilder {

    /** Where chunks go; {@code store} may be called again for a chunk it has (identical content, same hash). */
    @FunctionalInterface
    public interface ChunkSink {
        /** Returns the stored frame's length. {@code raw} must not be kept past the call. */
        int store(Sha256 hash, byte[] raw) throws IOException;
    }

    private ManifestBuilder() {}

    public static Manifest build(String artifact, long version, long createdAtMs, InputStream in, ChunkSink sink)
            throws IOException {
        ChunkStream stream = new ChunkStream(in);
        MessageDigest whole = Sha256.newDigest();
        List<ChunkRef> chunks = new ArrayList<>();
        for (byte[] chunk; (chunk = stream.next()) != null; ) {
            whole.update(chunk);
            Sha256 hash = Sha256.digest(chunk);
            chunks.add(new ChunkRef(hash, chunk.length, sink.store(hash, chunk)));
        }
        return new Manifest(artifact, version, stream.offset(), Sha256.of(whole.digest()), createdAtMs, chunks);
    }
}
