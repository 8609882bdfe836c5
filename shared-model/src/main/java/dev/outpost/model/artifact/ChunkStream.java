package dev.outpost.model.artifact;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Cuts a stream of any length into {@link FastCdc} chunks while holding at most two maximum chunks in memory. The
 * cuts do not depend on how the stream delivers its bytes.
 */
public final class ChunkStream {
    private final InputStream in;
    private final byte[] buffer = new byte[2 * FastCdc.MAX_BYTES];
    private int start;
    private int end;
    private boolean eof;
    private long offset;

    public ChunkStream(InputStream in) {
        this.in = in;
    }

    /** The next chunk's bytes, or {@code null} after the last one. */
    public byte[] next() throws IOException {
        fill();
        int available = end - start;
        if (available == 0) {
            return null;
        }
        int length = FastCdc.cut(buffer, start, available);
        byte[] chunk = Arrays.copyOfRange(buffer, start, start + length);
        start += length;
        offset += length;
        return chunk;
    }

    /** Bytes handed out so far. */
    public long offset() {
        return offset;
    }

    private void fill() throws IOException {
        if (eof || end - start >= FastCdc.MAX_BYTES) {
            return;
        }
        if (start > 0) {
            System.arraycopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        while (end < buffer.length) {
            int n = in.read(buffer, end, buffer.length - end);
            if (n < 0) {
                eof = true;
                return;
            }
            end += n;
        }
    }
}
