package dev.outpost.model.artifact;

import java.math.BigInteger;
import java.security.interfaces.EdECPublicKey;
import java.security.spec.EdECPoint;
import java.security.spec.NamedParameterSpec;
import java.util.Arrays;

/**
 * An Ed25519 public key read straight from its X.509 SubjectPublicKeyInfo (RFC 8410: a fixed 12-byte header, then the
 * 32-byte key). The JDK's EdDSA verifies with it like with its own keys. Why not {@code KeyFactory}: on a device, the
 * JDK's EdDSA key factory dispatches with a pattern {@code switch} whose class is generated at run time, which loads
 * and runs the class-file library (a few MB of compiler arena) once per process, just to read 32 bytes.
 */
public final class Ed25519PublicKey implements EdECPublicKey {
    private static final byte[] SPKI_HEADER = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    private static final int KEY_BYTES = 32;

    private final byte[] encoded;

    private Ed25519PublicKey(byte[] encoded) {
        this.encoded = encoded;
    }

    /** The key, or {@link IllegalArgumentException} when {@code spki} is not an Ed25519 SubjectPublicKeyInfo. */
    public static Ed25519PublicKey fromSpki(byte[] spki) {
        if (spki.length != SPKI_HEADER.length + KEY_BYTES
                || !Arrays.equals(spki, 0, SPKI_HEADER.length, SPKI_HEADER, 0, SPKI_HEADER.length)) {
            throw new IllegalArgumentException("not an Ed25519 SubjectPublicKeyInfo");
        }
        return new Ed25519PublicKey(spki.clone());
    }

    @Override
    public String getAlgorithm() {
        return "Ed25519";
    }

    @Override
    public String getFormat() {
        return "X.509";
    }

    @Override
    public byte[] getEncoded() {
        return encoded.clone();
    }

    @Override
    public NamedParameterSpec getParams() {
        return NamedParameterSpec.ED25519;
    }

    /** RFC 8032 5.1.2: y little-endian in 255 bits, the top bit the parity of x. */
    @Override
    public EdECPoint getPoint() {
        byte[] y = new byte[KEY_BYTES];
        for (int i = 0; i < KEY_BYTES; i++) {
            y[i] = encoded[encoded.length - 1 - i]; // big-endian for BigInteger
        }
        boolean xOdd = (y[0] & 0x80) != 0;
        y[0] &= 0x7f;
        return new EdECPoint(xOdd, new BigInteger(1, y));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Ed25519PublicKey k && Arrays.equals(encoded, k.encoded);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encoded);
    }
}
