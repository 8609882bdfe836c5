package dev.outpost.device.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.OutpostDevice;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device keeps the newest verified assignment per artifact (real SQLite home, the service's key pinned at init):
 * after a rollback, the replayed assignment of the version rolled away from does not replace the rollback, and an
 * assignment the pinned key did not sign is not kept, however late its issue time.
 */
class AssignmentReplayIT {
    @TempDir
    Path dir;

    private static final SigningKeys SERVICE = SigningKeys.generate();
    private static final SigningKeys FORGER = SigningKeys.generate();
    private static final long NOW = System.currentTimeMillis();

    private static String signed(long version, long issuedAt, boolean rollback, SigningKeys keys) {
        Assignment a = new Assignment(
                "crop-model",
                version,
                Sha256.digest(new byte[] {(byte) version}),
                issuedAt,
                NOW + 86_400_000L,
                rollback);
        return Base64.getEncoder()
                .encodeToString(SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, a.encode(), keys)
                        .encode());
    }

    private static dev.outpost.device.model.ModelStatus.Desired desired(OutpostDevice d) {
        return d.models().status().artifacts().stream()
                .filter(a -> a.artifact().equals("crop-model"))
                .findFirst()
                .orElseThrow()
                .desired();
    }

    /** A device with the service's key pinned and no service (nothing here reaches it). */
    private OutpostDevice device(String id) {
        Path home = dir.resolve(id);
        OutpostDevice.init(home, "http://127.0.0.1:9", id, "opd_x", null, List.of("nakuru"), SERVICE.publicBase64());
        return OutpostDevice.open(home);
    }

    @Test
    void theNewestVerifiedAssignmentIsKept() {
        try (OutpostDevice device = device("replayed")) {
            String v2 = signed(2, NOW - 20_000, false, SERVICE);
            device.models().rememberAssignments(List.of(v2));
            assertEquals(2, desired(device).version());
            device.models().rememberAssignments(List.of(signed(1, NOW - 10_000, true, SERVICE)));
            assertEquals(1, desired(device).version());
            assertTrue(desired(device).rollback());

            device.models().rememberAssignments(List.of(v2)); // replayed
            assertEquals(1, desired(device).version(), "a replay does not replace the newer rollback");
            device.models().rememberAssignments(List.of(signed(3, NOW + 60_000, false, FORGER)));
            assertEquals(1, desired(device).version(), "a forged assignment is not kept");
            device.models().rememberAssignments(List.of(signed(2, NOW, false, SERVICE)));
            assertEquals(2, desired(device).version(), "the operator promoting 2 again is kept");
        }
    }

    /**
     * The updater remembers which envelopes it verified, so that an update does not verify the assignment its check-in
     * just kept: an envelope that carries a verified one's signature over another payload is verified on its own.
     */
    @Test
    void aVerifiedEnvelopesSignatureDoesNotCarryOverToAnotherPayload() {
        try (OutpostDevice device = device("spliced")) {
            String genuine = signed(2, NOW - 20_000, false, SERVICE);
            device.models().rememberAssignments(List.of(genuine));
            device.models().rememberAssignments(List.of(genuine)); // verified, then remembered as verified
            assertEquals(2, desired(device).version());

            SignedEnvelope g = SignedEnvelope.decode(Base64.getDecoder().decode(genuine));
            Assignment later =
                    new Assignment("crop-model", 7, Sha256.digest(new byte[] {7}), NOW, NOW + 86_400_000L, false);
            String spliced = Base64.getEncoder()
                    .encodeToString(
                            new SignedEnvelope(g.payloadType(), later.encode(), g.keyId(), g.signature(), g.format())
                                    .encode());
            device.models().rememberAssignments(List.of(spliced));
            assertEquals(2, desired(device).version(), "the genuine signature over another payload is refused");
        }
    }
}
