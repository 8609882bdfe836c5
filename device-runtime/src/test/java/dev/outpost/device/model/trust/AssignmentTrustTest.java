package dev.outpost.device.model.trust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.TrustedKeys;
import org.junit.jupiter.api.Test;

/** What a device may install, decided from the signed assignment and what it remembers, with nothing else. */
class AssignmentTrustTest {
    private static final SigningKeys SERVICE = SigningKeys.generate();
    private static final SigningKeys OTHER = SigningKeys.generate();
    private static final long NOW = 1_800_000_000_000L;

    private static Assignment assignment(long version, long issuedAt, boolean rollback) {
        return new Assignment(
                "crop-model", version, Sha256.digest(new byte[] {(byte) version}), issuedAt, NOW + 60_000, rollback);
    }

    private static byte[] signed(Assignment a, SigningKeys keys) {
        return SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, a.encode(), keys).encode();
    }

    private static ErrorCode refusal(Runnable check) {
        return assertThrows(OutpostException.class, check::run).code();
    }

    @Test
    void anAssignmentSignedByThePinnedKeyForThisArtifactIsRead() {
        Assignment a = assignment(3, NOW, false);
        assertEquals(
                a, AssignmentTrust.verified(signed(a, SERVICE), TrustedKeys.of(SERVICE.publicKey()), "crop-model"));
    }

    @Test
    void anotherKeysSignatureOrAnotherArtifactIsRefused() {
        Assignment a = assignment(3, NOW, false);
        assertEquals(
                ErrorCode.SIGNATURE_INVALID,
                refusal(() ->
                        AssignmentTrust.verified(signed(a, OTHER), TrustedKeys.of(SERVICE.publicKey()), "crop-model")));
        assertEquals(
                ErrorCode.ARTIFACT_INVALID,
                refusal(() -> AssignmentTrust.verified(
                        signed(a, SERVICE), TrustedKeys.of(SERVICE.publicKey()), "pest-model")));
        byte[] tampered = signed(a, SERVICE);
        tampered[tampered.length / 2] ^= 1;
        assertThrows(
                OutpostException.class,
                () -> AssignmentTrust.verified(tampered, TrustedKeys.of(SERVICE.publicKey()), "crop-model"));
    }

    @Test
    void anExpiredAssignmentIsRefused() {
        Assignment a = assignment(3, NOW, false);
        AssignmentTrust.checkInstallable(a, NOW + 60_000, AssignmentTrust.Marks.NONE);
        assertEquals(
                ErrorCode.ASSIGNMENT_EXPIRED,
                refusal(() -> AssignmentTrust.checkInstallable(a, NOW + 60_001, AssignmentTrust.Marks.NONE)));
    }

    @Test
    void aLowerVersionNeedsASignedRollbackIssuedAfterTheHighestInstall() {
        AssignmentTrust.Marks installed4 = AssignmentTrust.Marks.NONE.installed(assignment(4, NOW - 1_000, false));
        assertEquals(new AssignmentTrust.Marks(4, NOW - 1_000), installed4);
        // A replayed older assignment: refused.
        assertEquals(
                ErrorCode.ROLLBACK_REFUSED,
                refusal(() -> AssignmentTrust.checkInstallable(assignment(3, NOW - 5_000, false), NOW, installed4)));
        // A rollback issued before version 4 was installed: a replay too.
        assertEquals(
                ErrorCode.ROLLBACK_REFUSED,
                refusal(() -> AssignmentTrust.checkInstallable(assignment(3, NOW - 2_000, true), NOW, installed4)));
        // A rollback issued after it: allowed, and the highest version stays 4.
        Assignment back = assignment(3, NOW, true);
        AssignmentTrust.checkInstallable(back, NOW, installed4);
        assertEquals(new AssignmentTrust.Marks(4, NOW), installed4.installed(back));
        // Equal or higher versions need no rollback, when issued after the last install's assignment.
        AssignmentTrust.checkInstallable(assignment(4, NOW, false), NOW, installed4);
        AssignmentTrust.checkInstallable(assignment(5, NOW, false), NOW, installed4);
        // Issued before it, even a higher version is a replay (superseded by what was installed since).
        assertEquals(
                ErrorCode.ROLLBACK_REFUSED,
                refusal(() -> AssignmentTrust.checkInstallable(assignment(5, NOW - 9_000, false), NOW, installed4)));
    }

    /**
     * Version 2 installed, then rolled back to 1 by the operator: the assignment that installed 2, replayed (still
     * unexpired, validly signed), must not bring 2 back. It did when only versions were compared.
     */
    @Test
    void theAssignmentOfAVersionRolledAwayFromCannotBeReplayed() {
        Assignment v1 = assignment(1, NOW - 30_000, false);
        Assignment v2 = assignment(2, NOW - 20_000, false);
        Assignment back = assignment(1, NOW - 10_000, true);
        AssignmentTrust.Marks marks = AssignmentTrust.Marks.NONE.installed(v1);
        AssignmentTrust.checkInstallable(v2, NOW, marks);
        marks = marks.installed(v2);
        AssignmentTrust.checkInstallable(back, NOW, marks);
        marks = marks.installed(back);
        assertEquals(new AssignmentTrust.Marks(2, NOW - 10_000), marks);
        AssignmentTrust.Marks afterRollback = marks;
        assertEquals(
                ErrorCode.ROLLBACK_REFUSED, refusal(() -> AssignmentTrust.checkInstallable(v2, NOW, afterRollback)));
        // A newer assignment of 2 (the operator promoting it again) is fine.
        AssignmentTrust.checkInstallable(assignment(2, NOW, false), NOW, afterRollback);
        // An older issue time never lowers the marks.
        assertEquals(afterRollback, afterRollback.installed(v1));
        // The very assignment behind the last install may install again (after a rollback made on the device itself,
        // the service still wanting that version).
        AssignmentTrust.Marks afterV2 = AssignmentTrust.Marks.NONE.installed(v1).installed(v2);
        AssignmentTrust.checkInstallable(v2, NOW, afterV2);
    }

    @Test
    void contentIgnoresReSigningButNotVersionManifestOrRollback() {
        Assignment a = assignment(3, NOW, false);
        Assignment resigned = new Assignment(a.artifact(), 3, a.manifestSha256(), NOW + 5, NOW + 99_000, false);
        assertEquals(AssignmentTrust.content(a), AssignmentTrust.content(resigned));
        assertNotEquals(AssignmentTrust.content(a), AssignmentTrust.content(assignment(3, NOW, true)));
        assertNotEquals(AssignmentTrust.content(a), AssignmentTrust.content(assignment(4, NOW, false)));
    }
}
