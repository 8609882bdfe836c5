package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.IOException;
import java.io.UncheckedIOException;
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
            updatePae(s, payloadType, payload.length);
            s.update(payload);
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

    /** As {@link #verifiedPayload(String, PublicKey)}, with the key {@code keys} holds for this envelope's key id. */
    public byte[] verifiedPayload(String expectedType, TrustedKeys keys) {
        return verifiedPayload(expectedType, keys.key(keyId));
    }

    /** As {@link #verify(String, PublicKey)}, with the key {@code keys} holds for this envelope's key id. */
    public void verify(String expectedType, TrustedKeys keys) {
        verify(expectedType, keys.key(keyId));
    }

    /** Checks the type and the signature against {@code key}; anything else is {@link ErrorCode#SIGNATURE_INVALID}. */
    public void verify(String expectedType, PublicKey key) {
        verify(
                payloadType,
                payload.length,
                inArray(payload, 0, payload.length),
                keyId,
                signature,
                format,
                expectedType,
                key);
    }

    /** Feeds the payload, in one piece or several, to a signature. */
    @FunctionalInterface
    private interface Payload {
        void feed(ByteSource.PieceConsumer into) throws GeneralSecurityException;
    }

    private static Payload inArray(byte[] data, int offset, int length) {
        return into -> {
            try {
                into.accept(data, offset, length);
            } catch (IOException e) {
                throw new UncheckedIOException(e); // an array is not read with I/O
            }
        };
    }

    /** The payload read from {@code source} in 32 KiB pieces; a failed read escapes as an {@link UncheckedIOException}. */
    private static Payload inSource(ByteSource source, long offset, long length) {
        byte[] piece = new byte[(int) Math.min(length, 32 * 1024)];
        return into -> {
            try {
                ByteSource.forEachPiece(source, offset, length, piece, into);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }

    private static void verify(
            String payloadType,
            long length,
            Payload payload,
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
            updatePae(s, payloadType, length);
            payload.feed(s::update);
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
        var r = new BinaryForm.Reader(data, "signed envelope");
        int format = format(r);
        String type = r.text16();
        int payloadOffset = r.skip32();
        int payloadLength = r.position() - payloadOffset;
        Signer signer = Signer.read(r);
        return new View(data, type, payloadOffset, payloadLength, signer.keyId(), signer.signature(), format);
    }

    /** Reads the magic and the format, which must be one this code verifies. */
    private static int format(BinaryForm.Reader r) {
        int format = r.magic(MAGIC).u8();
        if (format != ED25519 && format != ED25519PH) {
            throw r.invalid("format version " + format + " is not known");
        }
        return format;
    }

    /** What follows the payload: the signing key's id and the signature, and nothing after them. */
    private record Signer(String keyId, byte[] signature) {
        static Signer read(BinaryForm.Reader r) {
            String keyId = new String(r.bytes8(), StandardCharsets.US_ASCII);
            byte[] signature = r.bytes8();
            r.end();
            return new Signer(keyId, signature);
        }
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
        /** As {@link SignedEnvelope#verify}, with the key {@code keys} holds for this envelope's key id. */
        public void verify(String expectedType, TrustedKeys keys) {
            verify(expectedType, keys.key(keyId));
        }

        /** As {@link SignedEnvelope#verify}. */
        public void verify(String expectedType, PublicKey key) {
            SignedEnvelope.verify(
                    payloadType,
                    payloadLength,
                    inArray(data, payloadOffset, payloadLength),
                    keyId,
                    signature,
                    format,
                    expectedType,
                    key);
        }

        /** The SHA-256 of the payload (what an assignment names). */
        public Sha256 payloadDigest() {
            return Sha256.digest(data, payloadOffset, payloadLength);
        }
    }

    /** Bytes {@link #stored} reads ahead for the header: magic, format, a payload type of up to 200 bytes, length. */
    private static final int STORED_HEAD_BYTES = 4 + 1 + 2 + 200 + 4;
    /** The key id and the signature after the payload, each up to 255 bytes with a one-byte length. */
    private static final int STORED_TAIL_BYTES_MAX = 2 * 256;

    /**
     * Reads the envelope encoded in {@code source} without its payload, which is read in pieces when it is verified or
     * digested, and by {@link Manifest#of(Stored)} as it is used: how a device holds a large model's manifest.
     */
    public static Stored stored(ByteSource source) throws IOException {
        long size = source.size();
        byte[] head = new byte[(int) Math.min(size, STORED_HEAD_BYTES)];
        source.readFully(0, head, 0, head.length);
        var r = new BinaryForm.Reader(head, "signed envelope");
        int format = format(r);
        String type = r.text16();
        long payloadLength = r.u32();
        long payloadOffset = r.position();
        long tailLength = size - payloadOffset - payloadLength;
        if (payloadLength > PAYLOAD_BYTES_MAX) {
            throw r.invalid("its payload of " + payloadLength + " bytes is over the " + PAYLOAD_BYTES_MAX + " allowed");
        }
        if (tailLength < 0) {
            throw r.invalid("it ends early");
        }
        if (tailLength > STORED_TAIL_BYTES_MAX) {
            throw r.invalid("trailing bytes after its signature");
        }
        byte[] tail = new byte[(int) tailLength];
        source.readFully(payloadOffset + payloadLength, tail, 0, tail.length);
        Signer signer = Signer.read(new BinaryForm.Reader(tail, "signed envelope"));
        return new Stored(source, type, payloadOffset, payloadLength, signer.keyId(), signer.signature(), format);
    }

    /**
     * An encoded envelope read from a {@link ByteSource}: its payload is {@code [payloadOffset, payloadOffset +
     * payloadLength)} there, and is never in memory whole. Read failures are {@link IOException}s; a payload that does
     * not verify is {@link ErrorCode#SIGNATURE_INVALID}, as for the other forms.
     */
    public record Stored(
            ByteSource source,
            String payloadType,
            long payloadOffset,
            long payloadLength,
            String keyId,
            byte[] signature,
            int format) {
        /** As {@link SignedEnvelope#verify}, with the key {@code keys} holds for this key id, reading the payload once. */
        public void verify(String expectedType, TrustedKeys keys) throws IOException {
            verify(expectedType, keys.key(keyId));
        }

        /** As {@link SignedEnvelope#verify}, reading the payload once. */
        public void verify(String expectedType, PublicKey key) throws IOException {
            try {
                SignedEnvelope.verify(
                        payloadType,
                        payloadLength,
                        inSource(source, payloadOffset, payloadLength),
                        keyId,
                        signature,
                        format,
                        expectedType,
                        key);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
        }

        /** The SHA-256 of the payload (what an assignment names), reading it once. */
        public Sha256 payloadDigest() throws IOException {
            return Sha256.digest(source, payloadOffset, payloadLength);
        }
    }

    /**
     * Feeds the head of DSSE v1's pre-authentication encoding to {@code s}; the payload follows it as it is read, never
     * copied beside the envelope (1.2 MB for a 2 GB model).
     */
    private static void updatePae(Signature s, String type, long payloadLength) throws SignatureException {
        byte[] t = type.getBytes(StandardCharsets.UTF_8);
        s.update(("DSSEv1 " + t.length + " " + type + " " + payloadLength + " ").getBytes(StandardCharsets.UTF_8));
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
