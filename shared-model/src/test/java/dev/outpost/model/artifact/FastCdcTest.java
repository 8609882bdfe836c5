package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FastCdcTest {

    @Test
    void chunksStayWithinBoundsAndAverageNearTheTarget() throws IOException {
        byte[] data = random(1, 16 << 20);
        List<byte[]> chunks = chunks(new ByteArrayInputStream(data));
        long total = 0;
        for (int i = 0; i < chunks.size(); i++) {
            int n = chunks.get(i).length;
            total += n;
            assertTrue(n <= FastCdc.MAX_BYTES, "chunk over the maximum: " + n);
            assertTrue(n >= FastCdc.MIN_BYTES || i == chunks.size() - 1, "chunk under the minimum: " + n);
        }
        assertEquals(data.length, total);
        double average = (double) total / chunks.size();
        assertTrue(average > 48 * 1024 && average < 96 * 1024, "average chunk " + average);
    }

    @Test
    void cutsDoNotDependOnHowTheStreamDeliversItsBytes() throws IOException {
        byte[] data = random(2, 3 << 20);
        List<byte[]> whole = chunks(new ByteArrayInputStream(data));
        List<byte[]> trickled = chunks(new Trickle(data, 7919));
        assertEquals(lengths(whole), lengths(trickled));
    }

    @Test
    void anUnalignedInsertionLeavesMostChunksShared() throws IOException {
        byte[] v1 = random(3, 8 << 20);
        byte[] inserted = random(4, 40_003);
        int at = 3_000_001;
        byte[] v2 = new byte[v1.length + inserted.length];
        System.arraycopy(v1, 0, v2, 0, at);
        System.arraycopy(inserted, 0, v2, at, inserted.length);
        System.arraycopy(v1, at, v2, at + inserted.length, v1.length - at);

        Set<Sha256> before = new HashSet<>();
        for (byte[] c : chunks(new ByteArrayInputStream(v1))) {
            before.add(Sha256.digest(c));
        }
        long sharedBytes = 0;
        for (byte[] c : chunks(new ByteArrayInputStream(v2))) {
            if (before.contains(Sha256.digest(c))) {
                sharedBytes += c.length;
            }
        }
        // Only the chunks around the insertion change: a few hundred KiB of 8 MiB.
        assertTrue(sharedBytes > v1.length - 1_000_000, "shared only " + sharedBytes + " of " + v1.length);
    }

    @Test
    void anEmptyStreamHasNoChunks() throws IOException {
        assertEquals(0, chunks(new ByteArrayInputStream(new byte[0])).size());
    }

    static List<byte[]> chunks(InputStream in) throws IOException {
        ChunkStream stream = new ChunkStream(in);
        List<byte[]> out = new ArrayList<>();
        for (byte[] c; (c = stream.next()) != null; ) {
            out.add(c);
        }
        return out;
    }

    static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static List<Integer> lengths(List<byte[]> chunks) {
        return chunks.stream().map(c -> c.length).toList();
    }

    /** Hands out at most {@code step} bytes per read, as a slow socket would. */
    private static final class Trickle extends InputStream {
        private final byte[] data;
        private final int step;
        private int pos;

        Trickle(byte[] data, int step) {
            this.data = data;
            this.step = step;
        }

        @Override
        public int read() {
            return pos < data.length ? data[pos++] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (pos >= data.length) {
                return -1;
            }
            int n = Math.min(Math.min(len, step), data.length - pos);
            System.arraycopy(data, pos, b, off, n);
            pos += n;
            return n;
        }
    }
}
