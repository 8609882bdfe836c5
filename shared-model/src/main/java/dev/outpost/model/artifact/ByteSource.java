package dev.outpost.model.artifact;

import java.io.EOFException;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.util.Objects;

/**
 * Bytes read by position, for documents too large to hold whole on a device: a 4 GB model's signed manifest is 2.6 MB,
 * and a device updates within 64 MB. The device reads them from a file (one implementation per backend, outside this
 * module); {@link #of(byte[])} serves tests and callers that have the bytes already.
 *
 * <p>Contract: the bytes do not change while the source is in use; a source that notices they did (another file at
 * the same path) fails with an {@link IOException} rather than return other bytes. Reads may come from several
 * threads only if the implementation says so.
 */
public interface ByteSource {
    /** The number of bytes. */
    long size() throws IOException;

    /**
     * Fills {@code into[offset, offset + length)} with the bytes from {@code position} on; an {@link EOFException} if
     * the source ends before them.
     */
    void readFully(long position, byte[] into, int offset, int length) throws IOException;

    /** The bytes of {@code data}, which is kept, not copied. */
    static ByteSource of(byte[] data) {
        return new ByteSource() {
            @Override
            public long size() {
                return data.length;
            }

            @Override
            public void readFully(long position, byte[] into, int offset, int length) throws IOException {
                Objects.checkFromIndexSize(offset, length, into.length);
                if (position < 0 || position > data.length - (long) length) {
                    throw new EOFException(
                            length + " bytes at " + position + " are past the end (" + data.length + ")");
                }
                System.arraycopy(data, (int) position, into, offset, length);
            }
        };
    }

    /** Reads {@code [from, from + length)} in pieces of at most {@code piece.length} bytes, handing each on. */
    static void forEachPiece(ByteSource source, long from, long length, byte[] piece, PieceConsumer consumer)
            throws IOException, GeneralSecurityException {
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(piece.length, length - done);
            source.readFully(from + done, piece, 0, n);
            consumer.accept(piece, 0, n);
            done += n;
        }
    }

    /** Takes {@code piece[offset, offset + length)}; the array may be reused for the next piece. */
    @FunctionalInterface
    interface PieceConsumer {
        void accept(byte[] piece, int offset, int length) throws IOException, GeneralSecurityException;
    }
}
