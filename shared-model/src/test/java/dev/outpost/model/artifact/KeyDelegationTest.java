package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class KeyDelegationTest {
    private static final SigningKeys ROOT = SigningKeys.generate();
    private static final SigningKeys A = SigningKeys.generate();
    private static final SigningKeys B = SigningKeys.generate();

    @Test
    void aDelegationSurvivesItsEncodingAndVerifiesOnlyWithTheRoot() {
        KeyDelegation d = new KeyDelegation(List.of(A.publicKey(), B.publicKey()), 1_000, 2_000);
        byte[] signed = d.sign(ROOT).encode();
        KeyDelegation back = KeyDelegation.verified(signed, ROOT.publicKey());
        assertEquals(d.keyIds(), back.keyIds());
        assertEquals(1_000, back.issuedAtMs());
        assertEquals(2_000, back.expiresAtMs());
        assertTrue(back.delegates(B.keyId()));
        assertTrue(!back.delegates(ROOT.keyId()));

        OutpostException other =
                assertThrows(OutpostException.class, () -> KeyDelegation.verified(signed, A.publicKey()));
        assertEquals(ErrorCode.SIGNATURE_INVALID, other.code());

        byte[] flipped = signed.clone();
        flipped[20] ^= 1;
        assertEquals(
                ErrorCode.SIGNATURE_INVALID,
                assertThrows(OutpostException.class, () -> KeyDelegation.verified(flipped, ROOT.publicKey()))
                        .code());
    }

    @Test
    void anotherDocumentTheRootSignedIsNotADelegation() {
        // The payload type is signed: the root's signature over an assignment cannot pass for a delegation.
        byte[] assignment = SignedEnvelope.sign(
                        Assignment.PAYLOAD_TYPE, new KeyDelegation(List.of(A.publicKey()), 1, 2).encode(), ROOT)
                .encode();
        OutpostException e =
                assertThrows(OutpostException.class, () -> KeyDelegation.verified(assignment, ROOT.publicKey()));
        assertEquals(ErrorCode.SIGNATURE_INVALID, e.code());
    }

    @Test
    void theEncodingIsStrict() {
        byte[] encoded = new KeyDelegation(List.of(A.publicKey()), 1, 2).encode();
        byte[] longer = Arrays.copyOf(encoded, encoded.length + 1);
        assertEquals(
                ErrorCode.ARTIFACT_INVALID,
                assertThrows(OutpostException.class, () -> KeyDelegation.decode(longer))
                        .code());
        assertThrows(IllegalArgumentException.class, () -> new KeyDelegation(List.of(), 1, 2));
        assertThrows(
                IllegalArgumentException.class,
                () -> new KeyDelegation(Collections.nCopies(KeyDelegation.KEYS_MAX + 1, A.publicKey()), 1, 2));
        assertThrows(IllegalArgumentException.class, () -> new KeyDelegation(List.of(A.publicKey()), 2, 2));
        assertEquals(
                ErrorCode.KEY_EXPIRED,
                assertThrows(
                                OutpostException.class,
                                () -> new KeyDelegation(List.of(A.publicKey()), 1, 2).checkCurrent(3))
                        .code());
        new KeyDelegation(List.of(A.publicKey()), 1, 2).checkCurrent(2); // the last millisecond still counts
    }
}
