package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.EdDSAParameterSpec;
import java.util.Arrays;

/**
 * A payload with its type and one Ed25519 signature. What is signed is DSSE's pre-authentication encoding of type
 * and payload, so a signature over a manifest can never pass for an assignment or the reverse.
 *
 * <p>The envelope's format says which Ed25519 (RFC 8032): {@link #ED25519PH} (format 2, what is signed now) hashes
 * the message with SHA-512 as it is fed, so verifying a 2 GB model's 1.2 MB manifest costs no copy of it;
 * {@link #ED25519} (format 1, envelopes signed before) is pure Ed25519, for which the JDK holds the whole message
 * in memory (twice, as its buffer grows) until it verifies. Both verify; only the prehashed one is produced.
 */
public record SignedEnvelope(String payloadType, byte[] payload, String keyId, byte[] signature, int format) {
    private static final String MAGIC = "OPSE";
    /** Pure Ed25519 over the PAE. */
    public static final int ED25519 = 1;
    /** Ed25519ph (SHA-512 prehash, empty context) over the PAE. */
    public static final int ED25519PH = 2;

    public static final int PAYLOAD_BYTES_MAX = 16 * 1024 * 1024;

    public SignedEnvelope {
        if (format != ED25519 && format != ED25519PH) {
            throw new IllegalArgumentException("no signed envelope format " + format);
        }
    }

    /** An envelope in the current format ({@link #ED25519PH}). */
    public SignedEnvelope(String payloadType, byte[] payload, String keyId, byte[] signature) {
        this(payloadType, payload, keyId, signature, ED25519PH);
    }

    public static SignedEnvelope sign(String payloadType, byte[] payload, SigningKeys keys) {
        return sign(payloadType, payload, keys, ED25519PH);
    }

    /** Signs in the given format; the pure one only to check that envelopes signed before still verify. */
    static SignedEnvelope sign(String payloadType, byte[] payload, SigningKeys keys, int format) {
        try {
            Signature s = signature(format);
            s.initSign(keys.privateKey());
            updatePae(s, payloadType, payload);
            return new SignedEnvelope(payloadType, payload.clone(), keys.keyId(), s.sign(), format);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    private static Signature signature(int format) throws GeneralSecurityException {
        Signature s = Signature.getInstance("Ed25519");
        if (format == ED25519PH) {
            s.setParameter(new EdDSAParameterSpec(true));
        }
        return s;
    }

    /**
     * The payload, after checking the type and the signature against {@code key}; anything else is
     * {@link ErrorCode#SIGNATURE_INVALID}.
     */
    public byte[] verifiedPayload(String expectedType, PublicKey key) {
        verify(expectedType, key);
        return payload.clone();
    }

    /** Checks the type and the signature against {@code key}; anything else is {@link ErrorCode#SIGNATURE_INVALID}. */
    public void verify(String expectedType, PublicKey key) {
        verify(payloadType, payload, 0, payload.length, keyId, signature, format, expectedType, key);
    }

    private static void verify(
            String payloadType,
            byte[] data,
            int offset,
            int length,
            String keyId,
            byte[] signature,
            int format,
            String expectedType,
            PublicKey key) {
        if (!payloadType.equals(expectedType)) {
            throw new OutpostException(
                    ErrorCode.SIGNATURE_INVALID, "expected a signed " + expectedType + ", got " + payloadType);
        }
        // The key id is not signed; a mismatch means another key signed it (or the id was altered): refuse either way.
        boolean valid = keyId.equals(SigningKeys.keyId(key));
        try {
            Signature s = signature(format);
            s.initVerify(key);
            updatePae(s, payloadType, data, offset, length);
            valid &= s.verify(signature);
        } catch (GeneralSecurityException e) {
            valid = false;
        }
        if (!valid) {
            throw new OutpostException(
                    ErrorCode.SIGNATURE_INVALID,
                    "the " + payloadType + " signature does not verify with the pinned key " + SigningKeys.keyId(key));
        }
    }

    public byte[] encode() {
        return new BinaryForm.Writer(payload.length + 128)
                .magic(MAGIC)
                .u8(format)
                .text16(payloadType)
                .bytes32(payload)
                .bytes8(keyId.getBytes(StandardCharsets.US_ASCII))
                .bytes8(signature)
                .toByteArray();
    }

    public static SignedEnvelope decode(byte[] data) {
        View v = view(data);
        byte[] payload = Arrays.copyOfRange(data, v.payloadOffset(), v.payloadOffset() + v.payloadLength());
        return new SignedEnvelope(v.payloadType(), payload, v.keyId(), v.signature(), v.format());
    }

    /** Reads an encoded envelope without copying its payload out of {@code data} (which is kept, not copied). */
    public static View view(byte[] data) {
        var r = new BinaryForm.Reader(data, "signed envelope").magic(MAGIC);
        int format = r.u8();
        if (format != ED25519 && format != ED25519PH) {
            throw r.invalid("format version " + format + " is not known");
        }
        String type = r.text16();
        int payloadOffset = r.skip32();
        int payloadLength = r.position() - payloadOffset;
        String keyId = new String(r.bytes8(), StandardCharsets.US_ASCII);
        byte[] signature = r.bytes8();
        r.end();
        return new View(data, type, payloadOffset, payloadLength, keyId, signature, format);
    }

    /**
     * An encoded envelope read in place: its payload is {@code data[payloadOffset, payloadOffset + payloadLength)}.
     * A device reads a 2 GB model's 1.2 MB manifest this way, once, instead of as the file's bytes plus a copy.
     */
    public record View(
            byte[] data,
            String payloadType,
            int payloadOffset,
            int payloadLength,
            String keyId,
            byte[] signature,
            int format) {
        /** As {@link SignedEnvelope#verify}. */
        public void verify(String expectedType, PublicKey key) {
            SignedEnvelope.verify(
                    payloadType, data, payloadOffset, payloadLength, keyId, signature, format, expectedType, key);
        }

        /** The SHA-256 of the payload (what an assignment names). */
        public Sha256 payloadDigest() {
            return Sha256.digest(data, payloadOffset, payloadLength);
        }
    }

    /**
     * Feeds DSSE v1's pre-authentication encoding to {@code s} in two pieces, without a copy of the payload (580 KB
     * for a 1 GB model).
     */
    private static void updatePae(Signature s, String type, byte[] payload) throws SignatureException {
        updatePae(s, type, payload, 0, payload.length);
    }

    private static void updatePae(Signature s, String type, byte[] data, int offset, int length)
            throws SignatureException {
        byte[] t = type.getBytes(StandardCharsets.UTF_8);
        s.update(("DSSEv1 " + t.length + " " + type + " " + length + " ").getBytes(StandardCharsets.UTF_8));
        s.update(data, offset, length);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SignedEnvelope e
                && payloadType.equals(e.payloadType)
                && Arrays.equals(payload, e.payload)
                && keyId.equals(e.keyId)
                && Arrays.equals(signature, e.signature)
                && format == e.format;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "SignedEnvelope[" + payloadType + ", " + payload.length + " bytes, key " + keyId + "]";
    }
}
