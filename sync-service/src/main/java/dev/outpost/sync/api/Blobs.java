package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.sync.artifact.ChunkStore;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.jboss.resteasy.reactive.PathPart;

/** A stored blob as an HTTP answer: whole or a range, immutable, conditional (blocking: call from a worker). */
final class Blobs {
    private Blobs() {}

    static Response serve(ChunkStore chunks, ChunkStore.Kind kind, String hashText, String range, String ifNoneMatch) {
        ChunkStore.Blob blob = find(chunks, kind, hashText);
        if (ByteRanges.notModified(ifNoneMatch, hashText)) {
            return ByteRanges.immutable(Response.notModified(), hashText).build();
        }
        long length = blob.length();
        ByteRanges.Range r = ByteRanges.parse(range, length);
        long first = r == null ? 0 : r.first();
        long count = r == null ? length : r.length();
        Object entity;
        if (blob.localFile().isPresent()) {
            entity = new PathPart(blob.localFile().get(), first, count);
        } else {
            // Opened here, so that a store out of reach is a 503 and not a response cut after its status line.
            InputStream in;
            try {
                in = blob.open(first, count);
            } catch (IOException e) {
                throw new Problem(ErrorCode.UNAVAILABLE, e.getMessage());
            }
            entity = (StreamingOutput) out -> {
                try (in) {
                    in.transferTo(out);
                }
            };
        }
        if (r == null) {
            return ByteRanges.immutable(Response.ok(entity, ArtifactResource.OCTETS), hashText)
                    .build();
        }
        return ByteRanges.partial(entity, r, length, hashText);
    }

    /** The stored blob; 404 {@code not-found} naming it when the store does not hold it. */
    static ChunkStore.Blob find(ChunkStore chunks, ChunkStore.Kind kind, String hashText) {
        if (!Sha256.isHex(hashText)) {
            throw new Problem(ErrorCode.NOT_FOUND, "not a SHA-256: " + hashText);
        }
        try {
            return chunks.blob(kind, Sha256.parse(hashText))
                    .orElseThrow(() ->
                            new Problem(ErrorCode.NOT_FOUND, "no " + kind.name().toLowerCase() + " " + hashText));
        } catch (IOException e) {
            throw new Problem(ErrorCode.UNAVAILABLE, e.getMessage());
        }
    }

    /**
     * The blobs one after the other, each after its length (4 bytes, big-endian), read straight into one array of the
     * answer's size: a {@link ArtifactResource#frames} answer.
     */
    static byte[] concatenate(List<ChunkStore.Blob> blobs) {
        long total = 0;
        for (ChunkStore.Blob b : blobs) {
            total += 4 + b.length();
        }
        if (total > Integer.MAX_VALUE - 16) {
            throw new Problem(ErrorCode.PAYLOAD_TOO_LARGE, "these frames are " + total + " bytes together");
        }
        byte[] body = new byte[(int) total];
        int at = 0;
        try {
            for (ChunkStore.Blob b : blobs) {
                int length = (int) b.length();
                body[at] = (byte) (length >>> 24);
                body[at + 1] = (byte) (length >>> 16);
                body[at + 2] = (byte) (length >>> 8);
                body[at + 3] = (byte) length;
                at += 4;
                try (InputStream in = b.open(0, length)) {
                    if (in.readNBytes(body, at, length) != length) {
                        throw new IOException("a stored frame ends before its length");
                    }
                }
                at += length;
            }
        } catch (IOException e) {
            throw new Problem(ErrorCode.UNAVAILABLE, e.getMessage());
        }
        return body;
    }
}
