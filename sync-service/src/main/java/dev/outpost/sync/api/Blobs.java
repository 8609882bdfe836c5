package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.sync.artifact.ChunkStore;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.io.InputStream;
import org.jboss.resteasy.reactive.PathPart;

/** A stored blob as an HTTP answer: whole or a range, immutable, conditional (blocking: call from a worker). */
final class Blobs {
    private Blobs() {}

    static Response serve(ChunkStore chunks, ChunkStore.Kind kind, String hashText, String range, String ifNoneMatch) {
        if (!Sha256.isHex(hashText)) {
            throw new Problem(ErrorCode.NOT_FOUND, "not a SHA-256: " + hashText);
        }
        Sha256 hash = Sha256.parse(hashText);
        ChunkStore.Blob blob;
        try {
            blob = chunks.blob(kind, hash)
                    .orElseThrow(() ->
                            new Problem(ErrorCode.NOT_FOUND, "no " + kind.name().toLowerCase() + " " + hashText));
        } catch (IOException e) {
            throw new Problem(ErrorCode.UNAVAILABLE, e.getMessage());
        }
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
}
