package dev.outpost.model;

/**
 * Every failure Outpost reports across a boundary, with a stable string key. The server maps each code to an HTTP
 * status and a problem body; the device maps it to an exit code. Keys never change once shipped: clients match on
 * them.
 */
public enum ErrorCode {
    // Schema file problems (operator error at start-up).
    SCHEMA_INVALID("schema-invalid", Kind.PERMANENT),

    // Payloads that cannot be read.
    MALFORMED_PAYLOAD("malformed-payload", Kind.PERMANENT),
    UNSUPPORTED_FORMAT_VERSION("unsupported-format-version", Kind.PERMANENT),
    PAYLOAD_TOO_LARGE("payload-too-large", Kind.PERMANENT),
    BATCH_TOO_LARGE("batch-too-large", Kind.PERMANENT),

    // Payloads that can be read but do not fit the schema.
    UNKNOWN_TABLE("unknown-table", Kind.PERMANENT),
    UNKNOWN_FIELD("unknown-field", Kind.PERMANENT),
    TYPE_MISMATCH("type-mismatch", Kind.PERMANENT),
    OPERATION_NOT_ALLOWED("operation-not-allowed", Kind.PERMANENT),
    INVALID_CLOCK("invalid-clock", Kind.PERMANENT),
    INVALID_ID("invalid-id", Kind.PERMANENT),
    SCOPE_CHANGE("scope-change", Kind.PERMANENT),

    // Who may do what.
    UNAUTHENTICATED("unauthenticated", Kind.PERMANENT),
    CREDENTIAL_REVOKED("credential-revoked", Kind.PERMANENT),
    OUT_OF_SCOPE("out-of-scope", Kind.PERMANENT),
    DEVICE_MISMATCH("device-mismatch", Kind.PERMANENT),
    ADMIN_ONLY("admin-only", Kind.PERMANENT),
    /** The operator's role does not allow the action (docs/SECURITY.md, "Operators and roles"). */
    NOT_PERMITTED("not-permitted", Kind.PERMANENT),

    // Protocol state.
    BATCH_ID_TAKEN("batch-id-taken", Kind.PERMANENT),
    CLOCK_SKEW("clock-skew", Kind.PERMANENT),
    UPGRADE_REQUIRED("upgrade-required", Kind.PERMANENT),
    INVALID_CURSOR("invalid-cursor", Kind.PERMANENT),
    /**
     * The cursor is below the feed's compaction horizon in one of the device's scopes (docs/protocol.md, "Compaction
     * horizon"): what it has yet to pull is gone from the feed, so it installs its scopes' snapshots and goes on.
     */
    CURSOR_BEHIND_HORIZON("cursor-behind-horizon", Kind.PERMANENT),
    NOT_FOUND("not-found", Kind.PERMANENT),
    ALREADY_EXISTS("already-exists", Kind.PERMANENT),
    STALE_RESOLUTION("stale-resolution", Kind.PERMANENT),
    ROLLOUT_STATE("rollout-state", Kind.PERMANENT),
    /** An artifact version still desired, in a rollout in flight, or run or kept by a device: not deletable now. */
    VERSION_IN_USE("version-in-use", Kind.PERMANENT),
    UNSUPPORTED_MEDIA_TYPE("unsupported-media-type", Kind.PERMANENT),
    RANGE_NOT_SATISFIABLE("range-not-satisfiable", Kind.PERMANENT),

    // Model artifacts: what a device or the service refuses to trust or install.
    ARTIFACT_INVALID("artifact-invalid", Kind.PERMANENT),
    SIGNATURE_INVALID("signature-invalid", Kind.PERMANENT),
    ASSIGNMENT_EXPIRED("assignment-expired", Kind.PERMANENT),
    /** The root's delegation of the signing key expired: the service needs a newer one. */
    KEY_EXPIRED("key-expired", Kind.PERMANENT),
    ROLLBACK_REFUSED("rollback-refused", Kind.PERMANENT),
    INSUFFICIENT_SPACE("insufficient-space", Kind.RETRIABLE),
    HEALTH_CHECK_FAILED("health-check-failed", Kind.PERMANENT),
    CHUNK_CORRUPT("chunk-corrupt", Kind.REFETCH),
    DOWNLOAD_INCOMPLETE("download-incomplete", Kind.RETRIABLE),

    // Transient trouble on the serving side; the same request may succeed later.
    UNAVAILABLE("unavailable", Kind.RETRIABLE),
    /** Too many requests from one device or address: try again after the answer's Retry-After. */
    RATE_LIMITED("rate-limited", Kind.RETRIABLE),
    INTERNAL("internal", Kind.RETRIABLE);

    /** How a caller should react; classified here, once, for every code. */
    public enum Kind {
        /** Try again later with the same input: I/O, time-outs, serialization conflicts. */
        RETRIABLE,
        /** The same input will fail again: fix the input or the credential. */
        PERMANENT,
        /** Fetch the data again (a corrupt chunk, a stale manifest). */
        REFETCH
    }

    private final String key;
    private final Kind kind;

    ErrorCode(String key, Kind kind) {
        this.key = key;
        this.kind = kind;
    }

    /** The stable key that crosses the wire, e.g. {@code unknown-field}. */
    public String key() {
        return key;
    }

    public Kind kind() {
        return kind;
    }
}
