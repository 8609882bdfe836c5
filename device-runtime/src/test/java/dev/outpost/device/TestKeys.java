package dev.outpost.device;

import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.SigningKeys;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * The model keys of a test run, made as an operator makes them with {@code outpost keys}: a root key, an online signing
 * key the services under test are started with, and the root's delegation of it (valid a year).
 */
final class TestKeys {
    private TestKeys() {}

    static final SigningKeys ROOT = SigningKeys.generate();
    static final SigningKeys ONLINE = SigningKeys.generate();
    static final long ISSUED_AT_MS = System.currentTimeMillis();
    static final long VALID_MS = Duration.ofDays(365).toMillis();

    /** What a device is given at {@code init --root-key}. */
    static String rootKey() {
        return ROOT.publicBase64();
    }

    /** The root's delegation of {@code keys}, base64, issued at {@code issuedAtMs} and valid for {@code validMs}. */
    static String delegation(SigningKeys root, List<SigningKeys> keys, long issuedAtMs, long validMs) {
        KeyDelegation d =
                new KeyDelegation(keys.stream().map(SigningKeys::publicKey).toList(), issuedAtMs, issuedAtMs + validMs);
        return Base64.getEncoder().encodeToString(d.sign(root).encode());
    }

    /** The service's settings for signing with {@code online}, delegated by {@code delegation}. */
    static Map<String, String> serviceEnv(SigningKeys online, String delegation) {
        return Map.of(
                "OUTPOST_ARTIFACTS_SIGNING_KEY_PRIVATE", online.privateBase64(),
                "OUTPOST_ARTIFACTS_SIGNING_KEY_PUBLIC", online.publicBase64(),
                "OUTPOST_ARTIFACTS_KEY_DELEGATION", delegation);
    }

    /** The settings every service under test starts with unless a test gives its own. */
    static Map<String, String> defaultServiceEnv() {
        return serviceEnv(ONLINE, delegation(ROOT, List.of(ONLINE), ISSUED_AT_MS, VALID_MS));
    }
}
