package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The big-endian fields the artifact documents are made of. Reading is strict: a short document, a field out of
 * range or a trailing byte is {@link ErrorCode#ARTIFACT_INVALID}, so every document has exactly one encoding.
 */
final class BinaryForm {
    private BinaryForm() {}

    /** The error for a {@code what} document that does not decode, and {@code why}. */
    static OutpostException invalid(String what, String why) {
        return new OutpostException(ErrorCode.ARTIFACT_INVALID, "invalid " + what + ": " + why);
    }

    /** The big-endian unsigned 32-bit number at {@code b[p, p + 4)}, as an {@code int}. */
    static int u32(byte[] b, int p) {
        return (b[p] & 0xff) << 24 | (b[p + 1] & 0xff) << 16 | (b[p + 2] & 0xff) << 8 | (b[p + 3] & 0xff);
    }

    static final class Writer {
        private final ByteArrayOutputStream out;

        Writer(int sizeHint) {
            out = new ByteArrayOutputStream(sizeHint);
        }

        Writer magic(String magic) {
            out.writeBytes(magic.getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        Writer u8(int v) {
            out.write(v);
            return this;
        }

        Writer u16(int v) {
            out.write(v >>> 8);
            out.write(v);
            return this;
        }

        Writer u32(long v) {
            for (int shift = 24; shift >= 0; shift -= 8) {
                out.write((int) (v >>> shift));
            }
            return this;
        }

        Writer u64(long v) {
            for (int shift = 56; shift >= 0; shift -= 8) {
                out.write((int) (v >>> shift));
            }
            return this;
        }

        Writer hash(Sha256 h) {
            byte[] b = new byte[Sha256.BYTES];
            h.writeTo(b, 0);
            out.writeBytes(b);
            return this;
        }

        Writer text16(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u16(b.length);
            out.writeBytes(b);
            return this;
        }

        Writer bytes32(byte[] b) {
            u32(b.length);
            out.writeBytes(b);
            return this;
        }

        Writer bytes8(byte[] b) {
            u8(b.length);
            out.writeBytes(b);
            return this;
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }

    static final class Reader {
        private final byte[] data;
        private final String what;
        private final int limit;
        private int pos;

        Reader(byte[] data, String what) {
            this(data, 0, data.length, what);
        }

        /** Reads {@code data[from, to)}. */
        Reader(byte[] data, int from, int to, String what) {
            java.util.Objects.checkFromToIndex(from, to, data.length);
            this.data = data;
            this.what = what;
            this.pos = from;
            this.limit = to;
        }

        int position() {
            return pos;
        }

        /** Skips a u32 length and that many bytes; returns where they start. */
        int skip32() {
            long n = u32();
            need(n);
            int at = pos;
            pos += (int) n;
            return at;
        }

        Reader magic(String magic) {
            byte[] m = magic.getBytes(StandardCharsets.US_ASCII);
            need(m.length);
            for (byte b : m) {
                if (data[pos++] != b) {
                    throw invalid("it does not start with '" + magic + "'");
                }
            }
            return this;
        }

        int u8() {
            need(1);
            return data[pos++] & 0xff;
        }

        int u16() {
            return u8() << 8 | u8();
        }

        long u32() {
            need(4);
            long v = 0;
            for (int i = 0; i < 4; i++) {
                v = v << 8 | (data[pos++] & 0xff);
            }
            return v;
        }

        long u64() {
            need(8);
            long v = 0;
            for (int i = 0; i < 8; i++) {
                v = v << 8 | (data[pos++] & 0xff);
            }
            return v;
        }

        Sha256 hash() {
            need(Sha256.BYTES);
            byte[] b = new byte[Sha256.BYTES];
            System.arraycopy(data, pos, b, 0, b.length);
            pos += b.length;
            return Sha256.of(b);
        }

        String text16() {
            int n = u16();
            need(n);
            String s = new String(data, pos, n, StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        byte[] bytes32() {
            long n = u32();
            need(n);
            byte[] b = new byte[(int) n];
            System.arraycopy(data, pos, b, 0, b.length);
            pos += b.length;
            return b;
        }

        byte[] bytes8() {
            int n = u8();
            need(n);
            byte[] b = new byte[n];
            System.arraycopy(data, pos, b, 0, n);
            pos += n;
            return b;
        }

        int remaining() {
            return limit - pos;
        }

        void end() {
            if (pos != limit) {
                throw invalid((limit - pos) + " trailing bytes");
            }
        }

        OutpostException invalid(String why) {
            return BinaryForm.invalid(what, why);
        }

        private void need(long n) {
            if (n > limit - pos) {
                throw invalid("it ends early");
            }
        }
    }
}
