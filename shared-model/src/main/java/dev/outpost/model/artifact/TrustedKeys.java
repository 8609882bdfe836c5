package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.security.PublicKey;
import java.util.List;

/**
 * The keys a verifier accepts a signature from, found by the key id an envelope names. A key it does not hold is
 * {@link ErrorCode#SIGNATURE_INVALID}; a holder may refuse a key for other reasons (an expired delegation) with its own
 * code.
 */
@FunctionalInterface
public interface TrustedKeys {
    /** The key with this id, or an {@link OutpostException} saying why it is not trusted. */
    PublicKey key(String keyId);

    /** Exactly these keys. */
    static TrustedKeys of(List<PublicKey> keys) {
        List<PublicKey> held = List.copyOf(keys);
        return keyId -> held.stream()
                .filter(k -> SigningKeys.keyId(k).equals(keyId))
                .findFirst()
                .orElseThrow(() -> new OutpostException(
                        ErrorCode.SIGNATURE_INVALID,
                        "signed by key " + keyId + ", which is not one of the trusted keys "
                                + held.stream().map(SigningKeys::keyId).toList()));
    }

    /** Exactly this key. */
    static TrustedKeys of(PublicKey key) {
        return of(List.of(key));
    }
}
