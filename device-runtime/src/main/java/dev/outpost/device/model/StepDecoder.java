package dev.outpost.device.model;

import com.github.luben.zstd.ZstdDecompressCtx;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.TensorDelta;
import dev.outpost.model.artifact.UpdatePlanner;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Turns downloaded frames into their target chunks, one decoding thread's ({@link Prefetch}): what it keeps from chunk
 * to chunk (the buffer a delta's held chunks are read into, a zstd context) is made once per install rather than once
 * per chunk. The assembling thread checks each chunk against its signed hash before writing it: it would otherwise
 * wait for the decoding thread, and hashing was a fifth of that thread's work in a retrained model's update.
 */
final class StepDecoder implements AutoCloseable {
    /** The reference buffer grows by this much (64 KiB) at a time, up to {@link UpdatePlanner#REFERENCE_BYTES_MAX}. */
    private static final int REFERENCE_GROWTH = 64 * 1024;

    private final ZstdDecompressCtx zstd = new ZstdDecompressCtx();
    /** Where a delta's held chunks are read, concatenated: most are 2-3 chunks, some reach 1 MiB. */
    private byte[] reference = new byte[0];

    /**
     * Target chunk {@code c} from {@code frame}, unverified: a chunk frame when {@code kind} is {@code null}, else a
     * delta of that kind against the held chunks at {@code offsets} ({@code lengths} bytes each) of {@code held}.
     * {@code null} if it does not decode.
     */
    byte[] produce(
            Prefetch.Frame frame, DeltaIndex.Kind kind, FileChannel held, long[] offsets, int[] lengths, ChunkRef c)
            throws IOException {
        byte[] f = frame.body();
        try {
            if (kind == null) {
                return ChunkCodec.decompress(f, frame.offset(), frame.length(), c.rawLength(), zstd);
            }
            int length = readReference(held, offsets, lengths);
            return kind == DeltaIndex.Kind.TENSOR
                    ? TensorDelta.decode(f, frame.offset(), frame.length(), reference, length, c.rawLength(), zstd)
                    : ChunkCodec.applyDelta(f, frame.offset(), frame.length(), reference, length, c.rawLength());
        } catch (OutpostException undecodable) {
            return null;
        }
    }

    /** Reads the held chunks into the reference buffer, one after the other; returns how many bytes they are. */
    private int readReference(FileChannel held, long[] offsets, int[] lengths) throws IOException {
        int total = 0;
        for (int length : lengths) {
            total += length;
        }
        if (reference.length < total) {
            reference = new byte
                    [Math.min(UpdatePlanner.REFERENCE_BYTES_MAX, (total + REFERENCE_GROWTH - 1) & -REFERENCE_GROWTH)];
        }
        int at = 0;
        for (int k = 0; k < offsets.length; k++) {
            SlotAssembly.readFully(held, offsets[k], ByteBuffer.wrap(reference, at, lengths[k]));
            at += lengths[k];
        }
        return total;
    }

    @Override
    public void close() {
        try {
            zstd.close();
        } catch (IllegalStateException inUse) {
            // Still decoding on a thread that outlived its pool's shutdown: the context is freed with the process.
        }
    }
}
