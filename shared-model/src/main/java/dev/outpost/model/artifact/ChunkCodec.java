package dev.outpost.model.artifact;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdDictDecompress;
import com.github.luben.zstd.ZstdException;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;

/**
 * Chunks and chunk-local deltas as independent zstd frames. A delta is the target chunk compressed with the
 * reference bytes (held chunks, concatenated) as a raw-content dictionary, so unchanged stretches cost a few bytes of
 * match and only new content is paid for. Every decode is bounded by the length the signed manifest gives, and
 * checked against the chunk's hash by the caller through {@link #verify}.
 */
public final class ChunkCodec {
    /** Stored chunks: level 9 is within a few percent of 19 on weights, at several times the speed. */
    public static final int STORE_LEVEL = 9;
    /** Deltas are computed once per version pair and cached, so they take the strongest level. */
    public static final int DELTA_LEVEL = 19;

    private ChunkCodec() {}

    public static byte[] compress(byte[] raw, int level) {
        try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
            ctx.setLevel(level);
            ctx.setChecksum(false);
            return ctx.compress(raw);
        }
    }

    public static byte[] compressDelta(byte[] target, byte[] reference, int level) {
        try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
            ctx.setLevel(level);
            ctx.loadDict(reference);
            return ctx.compress(target);
        }
    }

    /** The raw bytes of a stored chunk frame, which must be exactly {@code rawLength} long. */
    public static byte[] decompress(byte[] frame, int rawLength) {
        return decode(frame, 0, frame.length, null, 0, rawLength, null);
    }

    /**
     * As {@link #decompress(byte[], int)} for the frame at {@code frame[offset, offset + length)}, with a zstd context
     * the caller keeps for many frames (one that never loads a dictionary).
     */
    public static byte[] decompress(byte[] frame, int offset, int length, int rawLength, ZstdDecompressCtx zstd) {
        return decode(frame, offset, length, null, 0, rawLength, zstd);
    }

    public static byte[] applyDelta(byte[] delta, byte[] reference, int rawLength) {
        return applyDelta(delta, reference, reference.length, rawLength);
    }

    /**
     * As {@link #applyDelta(byte[], byte[], int)} with the first {@code referenceLength} bytes of {@code reference}:
     * a device reads every delta's reference into one buffer rather than a new megabyte array each time.
     */
    public static byte[] applyDelta(byte[] delta, byte[] reference, int referenceLength, int rawLength) {
        return decode(delta, 0, delta.length, reference, referenceLength, rawLength, null);
    }

    /** As {@link #applyDelta(byte[], byte[], int, int)} for the delta at {@code delta[offset, offset + length)}. */
    public static byte[] applyDelta(
            byte[] delta, int offset, int length, byte[] reference, int referenceLength, int rawLength) {
        return decode(delta, offset, length, reference, referenceLength, rawLength, null);
    }

    public static void verify(byte[] raw, Sha256 expected, String what) {
        Sha256 actual = Sha256.digest(raw);
        if (!actual.equals(expected)) {
            throw new OutpostException(
                    ErrorCode.CHUNK_CORRUPT,
                    what + " does not match its hash " + expected.hex() + " (got " + actual.hex() + ")");
        }
    }

    /** With {@code shared} (no dictionary) if not null, else a context of its own, closed after. */
    private static byte[] decode(
            byte[] frame,
            int offset,
            int length,
            byte[] reference,
            int referenceLength,
            int rawLength,
            ZstdDecompressCtx shared) {
        // The dictionary is declared first so that it is freed after the context that refers to it.
        try (ZstdDictDecompress dict =
                        reference == null ? null : new ZstdDictDecompress(reference, 0, referenceLength);
                ZstdDecompressCtx own = shared == null ? new ZstdDecompressCtx() : null) {
            ZstdDecompressCtx ctx = shared == null ? own : shared;
            if (dict != null) {
                ctx.loadDict(dict);
            }
            byte[] out = new byte[rawLength];
            int n = ctx.decompressByteArray(out, 0, rawLength, frame, offset, length);
            if (n != rawLength) {
                throw new OutpostException(
                        ErrorCode.CHUNK_CORRUPT, "a chunk frame decoded to " + n + " bytes, not " + rawLength);
            }
            return out;
        } catch (ZstdException e) {
            throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a chunk frame does not decode: " + e.getMessage());
        }
    }
}
