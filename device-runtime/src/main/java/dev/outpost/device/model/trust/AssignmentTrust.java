package dev.outpost.device.model.trust;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.TrustedKeys;
import java.security.PublicKey;

/**
 * Whether a device may act on a signed assignment (docs/artifacts.md, "Trust"): signed by a trusted key, for the
 * artifact named, not expired, issued no earlier than the assignment behind the last install (an older one is a replay: after a
 * rollback, the assignment of the version rolled away from must not bring it back), and never lower than the highest
 * version installed unless it is a signed rollback (TUF's rollback and freeze attacks). Pure: no storage, no clock of its
 * own, no network. Every refusal is an {@link OutpostException} with its stable code.
 */
public final class AssignmentTrust {
    private AssignmentTrust() {}

    /**
     * What a device remembers of an artifact's history.
     *
     * @param highestVersion the highest version it installed, 0 for none
     * @param highestIssuedAtMs the issue time of the assignment that installed it last
     */
    public record Marks(long highestVersion, long highestIssuedAtMs) {
        public static final Marks NONE = new Marks(0, 0);

        public static Marks of(Long highestVersion, Long highestIssuedAtMs) {
            return new Marks(
                    highestVersion == null ? 0 : highestVersion, highestIssuedAtMs == null ? 0 : highestIssuedAtMs);
        }

        /** The marks after {@code a} installed: the highest version and the newest issue time stay the highest seen. */
        public Marks installed(Assignment a) {
            return new Marks(Math.max(highestVersion, a.version()), Math.max(highestIssuedAtMs, a.issuedAtMs()));
        }
    }

    /** The assignment in {@code envelope}, its signature checked with {@code keys}; it must be for {@code artifact}. */
    public static Assignment verified(byte[] envelope, TrustedKeys keys, String artifact) {
        SignedEnvelope signed = SignedEnvelope.decode(envelope);
        return verified(signed, keys.key(signed.keyId()), artifact);
    }

    /** The assignment in {@code signed}, its signature checked with {@code key}; it must be for {@code artifact}. */
    public static Assignment verified(SignedEnvelope signed, PublicKey key, String artifact) {
        signed.verify(Assignment.PAYLOAD_TYPE, key);
        return verified(signed, artifact);
    }

    /**
     * The assignment in {@code signed}, whose signature the caller verified already with the key it trusts now for
     * the envelope's key id; it must be for {@code artifact}.
     */
    public static Assignment verified(SignedEnvelope signed, String artifact) {
        Assignment a = Assignment.decode(signed.payload());
        if (!a.artifact().equals(artifact)) {
            throw new OutpostException(ErrorCode.ARTIFACT_INVALID, "the assignment is for " + a.artifact());
        }
        return a;
    }

    /** Refuses to install {@code a} at {@code nowMs} when it expired, or when it would roll back without leave. */
    public static void checkInstallable(Assignment a, long nowMs, Marks marks) {
        if (nowMs > a.expiresAtMs()) {
            throw new OutpostException(
                    ErrorCode.ASSIGNMENT_EXPIRED,
                    "the assignment of " + a.artifact() + " version " + a.version()
                            + " expired; sync to get a fresh one");
        }
        // Equal is the very assignment behind the last install (the service never issues two of an artifact in one
        // millisecond): after a rollback on the device itself, it brings its version back, as the service still wants.
        if (marks.highestVersion() > 0 && a.issuedAtMs() < marks.highestIssuedAtMs()) {
            throw new OutpostException(
                    ErrorCode.ROLLBACK_REFUSED,
                    "the assignment of " + a.artifact() + " version " + a.version()
                            + " was issued before the one behind the last install: a replay, refused");
        }
        if (a.version() < marks.highestVersion() && !a.rollback()) {
            throw new OutpostException(
                    ErrorCode.ROLLBACK_REFUSED,
                    "version " + a.version() + " is lower than " + marks.highestVersion()
                            + " and no newer signed rollback allows it");
        }
    }

    /**
     * What identifies an assignment's content across re-signing (the service signs assignments afresh): version,
     * manifest and rollback flag. A permanent refusal is remembered by it, so the background worker does not retry
     * the very same content.
     */
    public static String content(Assignment a) {
        return a.version() + "|" + a.manifestSha256().hex() + "|" + a.rollback();
    }
}
