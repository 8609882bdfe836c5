package dev.outpost.sync.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.SigningKeys;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What a service start refuses of its key delegation: the checks that keep a misconfigured service from running. */
class ArtifactKeysTest {
    private static final SigningKeys ROOT = SigningKeys.generate();
    private static final SigningKeys ONLINE = SigningKeys.generate();
    private static final Duration WARN = Duration.ofDays(14);
    private static final long DAY = 86_400_000L;

    private static String delegation(SigningKeys root, SigningKeys key, long issuedAt, long expiresAt) {
        return Base64.getEncoder()
                .encodeToString(new KeyDelegation(List.of(key.publicKey()), issuedAt, expiresAt)
                        .sign(root)
                        .encode());
    }

    private static String refusal(String delegation, Optional<String> root) {
        return assertThrows(IllegalStateException.class, () -> ArtifactKeys.checked(delegation, ONLINE, root, WARN))
                .getMessage();
    }

    @Test
    void aDelegationOfTheSigningKeyByTheRootIsServedAsGiven() {
        long now = System.currentTimeMillis();
        String d = delegation(ROOT, ONLINE, now, now + 90 * DAY);
        assertArrayEquals(
                Base64.getDecoder().decode(d), ArtifactKeys.checked(d, ONLINE, Optional.of(ROOT.publicBase64()), WARN));
        // Without the root's public key configured, the start cannot check the signature, but checks the rest.
        assertArrayEquals(Base64.getDecoder().decode(d), ArtifactKeys.checked(d, ONLINE, Optional.empty(), WARN));
    }

    @Test
    void aDelegationOfAnotherKeyAnExpiredOneOrOneAnotherRootSignedStopsTheStart() {
        long now = System.currentTimeMillis();
        String other = refusal(delegation(ROOT, SigningKeys.generate(), now, now + DAY), Optional.empty());
        assertTrue(other.contains("not the configured signing key " + ONLINE.keyId()), other);

        String expired = refusal(delegation(ROOT, ONLINE, now - 2 * DAY, now - DAY), Optional.empty());
        assertTrue(expired.contains("expired"), expired);

        SigningKeys rogue = SigningKeys.generate();
        String notRoot = refusal(delegation(rogue, ONLINE, now, now + DAY), Optional.of(ROOT.publicBase64()));
        assertTrue(notRoot.contains("not by the root key " + ROOT.keyId()), notRoot);

        String garbage = refusal("bm90IGEgZGVsZWdhdGlvbg==", Optional.empty());
        assertTrue(garbage.contains("key-delegation is not usable"), garbage);
    }
}
