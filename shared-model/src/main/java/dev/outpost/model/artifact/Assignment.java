package dev.outpost.model.artifact;

/**
 * The service's signed word that a device should run {@code artifact} at {@code version}: short-lived
 * ({@code expiresAtMs}) so a captured one cannot freeze a device on an old version, ordered ({@code issuedAtMs}) so an
 * older one cannot be replayed, and allowed to lower the version only when {@code rollback} is set.
 *
 * @param manifestSha256 SHA-256 of the signed manifest payload this assignment points at
 */
public record Assignment(
        String artifact, long version, Sha256 manifestSha256, long issuedAtMs, long expiresAtMs, boolean rollback) {
    public static final String PAYLOAD_TYPE = "application/vnd.outpost.assignment.v1";
    private static final String MAGIC = "OPAS";
    private static final int FORMAT_VERSION = 1;

    public Assignment {
        Manifest.checkName(artifact);
        if (version <= 0 || expiresAtMs <= issuedAtMs) {
            throw new IllegalArgumentException("an assignment needs a version and an expiry after its issue time");
        }
    }

    public byte[] encode() {
        return new BinaryForm.Writer(96)
                .magic(MAGIC)
                .u8(FORMAT_VERSION)
                .text16(artifact)
                .u64(version)
                .hash(manifestSha256)
                .u64(issuedAtMs)
                .u64(expiresAtMs)
                .u8(rollback ? 1 : 0)
                .toByteArray();
    }

    public static Assignment decode(byte[] data) {
        var r = new BinaryForm.Reader(data, "assignment").magic(MAGIC);
        int format = r.u8();
        if (format != FORMAT_VERSION) {
            throw r.invalid("format version " + format + " is not known");
        }
        try {
            String artifact = r.text16();
            long version = r.u64();
            Sha256 manifest = r.hash();
            long issued = r.u64();
            long expires = r.u64();
            int flags = r.u8();
            if (flags > 1) {
                throw r.invalid("unknown flags " + flags);
            }
            r.end();
            return new Assignment(artifact, version, manifest, issued, expires, flags == 1);
        } catch (IllegalArgumentException e) {
            throw r.invalid(e.getMessage());
        }
    }
}
