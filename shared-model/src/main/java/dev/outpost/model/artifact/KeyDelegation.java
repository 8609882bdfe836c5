package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;

/**
 * The offline root key's signed word that {@code keys} may sign manifests and assignments from {@code issuedAtMs}
 * until {@code expiresAtMs} (TUF's root metadata delegating the online roles). A device is given the root's public key
 * at {@code init} and trusts an online key only through a delegation the root signed; a newer delegation (by issue
 * time) replaces an older one, never the reverse, so rotating the online key is signing a new delegation offline and
 * giving it to the service with the new key. The root's private key never reaches the service.
 */
public record KeyDelegation(List<PublicKey> keys, long issuedAtMs, long expiresAtMs) {
    public static final String PAYLOAD_TYPE = "application/vnd.outpost.key-delegation.v1";
    private static final String MAGIC = "OPKD";
    private static final int FORMAT_VERSION = 1;
    /** Keys one delegation names at most: the key in use, and the next one during a rollover. */
    public static final int KEYS_MAX = 8;

    public KeyDelegation {
        keys = List.copyOf(keys);
        if (keys.isEmpty() || keys.size() > KEYS_MAX) {
            throw new IllegalArgumentException("a key delegation names 1 to " + KEYS_MAX + " keys");
        }
        if (expiresAtMs <= issuedAtMs) {
            throw new IllegalArgumentException("a key delegation expires after it is issued");
        }
    }

    /** Whether the key with this id is one of those delegated. */
    public boolean delegates(String keyId) {
        return keys.stream().anyMatch(k -> SigningKeys.keyId(k).equals(keyId));
    }

    /** The delegated keys' ids, in order. */
    public List<String> keyIds() {
        return keys.stream().map(SigningKeys::keyId).toList();
    }

    /** Signed by {@code root}: what an operator's offline command produces. */
    public SignedEnvelope sign(SigningKeys root) {
        return SignedEnvelope.sign(PAYLOAD_TYPE, encode(), root);
    }

    /**
     * The delegation in the encoded envelope, its signature checked with {@code root}; anything else (another key,
     * another document type, a damaged one) is {@link ErrorCode#SIGNATURE_INVALID}.
     */
    public static KeyDelegation verified(byte[] envelope, PublicKey root) {
        SignedEnvelope e;
        try {
            e = SignedEnvelope.decode(envelope);
        } catch (OutpostException notAnEnvelope) {
            throw new OutpostException(ErrorCode.SIGNATURE_INVALID, "the key delegation is not a signed envelope");
        }
        if (!e.keyId().equals(SigningKeys.keyId(root))) {
            throw new OutpostException(
                    ErrorCode.SIGNATURE_INVALID,
                    "the key delegation is signed by key " + e.keyId() + ", not by the root key "
                            + SigningKeys.keyId(root));
        }
        return decode(e.verifiedPayload(PAYLOAD_TYPE, root));
    }

    /** Refuses a delegation that expired at {@code nowMs}: its keys sign nothing new any more. */
    public void checkCurrent(long nowMs) {
        if (nowMs > expiresAtMs) {
            throw new OutpostException(
                    ErrorCode.KEY_EXPIRED,
                    "the signing keys " + keyIds() + " were delegated until "
                            + java.time.Instant.ofEpochMilli(expiresAtMs)
                            + "; the service needs a key delegation the root signed since");
        }
    }

    public byte[] encode() {
        var w = new BinaryForm.Writer(64 + keys.size() * 48)
                .magic(MAGIC)
                .u8(FORMAT_VERSION)
                .u64(issuedAtMs)
                .u64(expiresAtMs)
                .u8(keys.size());
        for (PublicKey k : keys) {
            w.bytes8(k.getEncoded());
        }
        return w.toByteArray();
    }

    public static KeyDelegation decode(byte[] data) {
        var r = new BinaryForm.Reader(data, "key delegation").magic(MAGIC);
        int format = r.u8();
        if (format != FORMAT_VERSION) {
            throw r.invalid("format version " + format + " is not known");
        }
        try {
            long issued = r.u64();
            long expires = r.u64();
            int n = r.u8();
            List<PublicKey> keys = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                keys.add(Ed25519PublicKey.fromSpki(r.bytes8()));
            }
            r.end();
            return new KeyDelegation(keys, issued, expires);
        } catch (IllegalArgumentException e) {
            throw r.invalid(e.getMessage());
        }
    }
}
