package dev.outpost.model.artifact;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/** A SHA-256 digest: the address of a chunk, a delta or a whole artifact file. */
public final class Sha256 implements Comparable<Sha256> {
    public static final int BYTES = 32;
    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;

    private Sha256(byte[] bytes) {
        this.bytes = bytes;
    }

    public static Sha256 of(byte[] digest) {
        if (digest.length != BYTES) {
            throw new IllegalArgumentException("a SHA-256 digest has 32 bytes, not " + digest.length);
        }
        return new Sha256(digest.clone());
    }

    /** Parses 64 lowercase hex digits; anything else is {@link IllegalArgumentException}. */
    public static Sha256 parse(String hex) {
        if (hex == null
                || hex.length() != 2 * BYTES
                || !hex.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            throw new IllegalArgumentException("not a SHA-256 (64 lowercase hex digits): " + hex);
        }
        return new Sha256(HEX.parseHex(hex));
    }

    public static boolean isHex(String text) {
        try {
            parse(text);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    public static Sha256 digest(byte[] data) {
        return digest(data, 0, data.length);
    }

    public static Sha256 digest(byte[] data, int offset, int length) {
        MessageDigest md = newDigest();
        md.update(data, offset, length);
        return new Sha256(md.digest());
    }

    /** The SHA-256 of {@code [from, from + length)} of {@code source}, read in pieces of 32 KiB. */
    public static Sha256 digest(ByteSource source, long from, long length) throws IOException {
        MessageDigest md = newDigest();
        try {
            ByteSource.forEachPiece(source, from, length, new byte[(int) Math.min(length, 32 * 1024)], md::update);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("a digest does not refuse bytes", e);
        }
        return new Sha256(md.digest());
    }

    /** The SHA-256 of everything {@code in} holds, read to its end in pieces (never held in memory). */
    public static Sha256 digest(java.io.InputStream in) throws IOException {
        MessageDigest md = newDigest();
        byte[] buffer = new byte[64 * 1024];
        for (int n; (n = in.read(buffer)) >= 0; ) {
            md.update(buffer, 0, n);
        }
        return new Sha256(md.digest());
    }

    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    public byte[] bytes() {
        return bytes.clone();
    }

    void writeTo(byte[] target, int offset) {
        System.arraycopy(bytes, 0, target, offset, BYTES);
    }

    public String hex() {
        return HEX.formatHex(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sha256 other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        // The bytes are uniformly distributed already.
        return (bytes[0] & 0xff) << 24 | (bytes[1] & 0xff) << 16 | (bytes[2] & 0xff) << 8 | (bytes[3] & 0xff);
    }

    @Override
    public int compareTo(Sha256 o) {
        return Arrays.compareUnsigned(bytes, o.bytes);
    }

    @Override
    public String toString() {
        return hex();
    }
}
