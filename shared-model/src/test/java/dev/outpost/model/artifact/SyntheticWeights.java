package dev.outpost.model.artifact;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * Seeded float32 weight files for tests and the model-update benchmark: v1 is blocks of N(0, 0.02) values; v2
 * fine-tunes 5% of the blocks (every value nudged by N(0, 1e-4)) and inserts 1% of new values at an offset that is
 * not a multiple of 4. Streamed, so a 200 MB pair needs no 200 MB buffer.
 */
public final class SyntheticWeights {
    public static final int BLOCK_BYTES = 256 * 1024;
    public static final double FINE_TUNED_SHARE = 0.05;
    public static final double INSERTED_SHARE = 0.01;

    private SyntheticWeights() {}

    public static void write(OutputStream out, long seed, long sizeBytes, boolean v2) throws IOException {
        long insertAt = v2 ? (long) (sizeBytes * 0.37) / 4 * 4 + 3 : -1;
        long insertBytes = (long) (sizeBytes * INSERTED_SHARE);
        ByteBuffer block = ByteBuffer.allocate(BLOCK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long written = 0;
        for (long b = 0; written < sizeBytes; b++) {
            SplittableRandom values = new SplittableRandom(seed * 1_000_003L + b);
            SplittableRandom tune = new SplittableRandom(~seed * 7_919L + b);
            boolean tuned = v2 && tune.nextDouble() < FINE_TUNED_SHARE;
            block.clear();
            while (block.hasRemaining()) {
                float x = (float) (gaussian(values) * 0.02);
                if (tuned) {
                    x += (float) (gaussian(tune) * 1e-4);
                }
                block.putFloat(x);
            }
            int n = (int) Math.min(BLOCK_BYTES, sizeBytes - written);
            if (insertAt >= written && insertAt < written + n) {
                int head = (int) (insertAt - written);
                out.write(block.array(), 0, head);
                writeInserted(out, seed, insertBytes);
                out.write(block.array(), head, n - head);
            } else {
                out.write(block.array(), 0, n);
            }
            written += n;
        }
    }

    public static byte[] bytes(long seed, int sizeBytes, boolean v2) {
        var out = new java.io.ByteArrayOutputStream(sizeBytes + sizeBytes / 50);
        try {
            write(out, seed, sizeBytes, v2);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    private static void writeInserted(OutputStream out, long seed, long bytes) throws IOException {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5eed);
        ByteBuffer buf = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        for (long left = bytes; left > 0; ) {
            buf.clear();
            while (buf.hasRemaining()) {
                buf.putFloat((float) (gaussian(r) * 0.02));
            }
            int n = (int) Math.min(left, buf.capacity());
            out.write(buf.array(), 0, n);
            left -= n;
        }
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller; SplittableRandom has no nextGaussian on every JDK level we build for.
        double u = 1.0 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
