package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.Map;

/**
 * A failure with its HTTP status, answered as problem JSON (RFC 9457):
 * {@code {"type", "title", "status", "code", "detail", ...details}}. Never carries a Java class name or a stack.
 */
public class Problem extends OutpostException {
    private final int status;
    private final Map<String, Object> details;

    public Problem(ErrorCode code, String message, Map<String, Object> details) {
        super(code, message);
        this.status = statusOf(code);
        this.details = Map.copyOf(details);
    }

    public Problem(ErrorCode code, String message) {
        this(code, message, Map.of());
    }

    public int status() {
        return status;
    }

    public Map<String, Object> details() {
        return details;
    }

    /** The one place that maps error codes to HTTP statuses. */
    public static int statusOf(ErrorCode code) {
        return switch (code) {
            case MALFORMED_PAYLOAD, INVALID_CURSOR -> 400;
            case UNAUTHENTICATED, CREDENTIAL_REVOKED -> 401;
            case OUT_OF_SCOPE, DEVICE_MISMATCH, ADMIN_ONLY, NOT_PERMITTED -> 403;
            case NOT_FOUND -> 404;
            case CURSOR_BEHIND_HORIZON -> 410;
            case BATCH_ID_TAKEN, ALREADY_EXISTS, STALE_RESOLUTION, ROLLOUT_STATE, VERSION_IN_USE -> 409;
            case PAYLOAD_TOO_LARGE, BATCH_TOO_LARGE -> 413;
            case UNSUPPORTED_MEDIA_TYPE -> 415;
            case RANGE_NOT_SATISFIABLE -> 416;
            case ARTIFACT_INVALID,
                    SIGNATURE_INVALID,
                    ASSIGNMENT_EXPIRED,
                    KEY_EXPIRED,
                    ROLLBACK_REFUSED,
                    HEALTH_CHECK_FAILED -> 422;
            case INSUFFICIENT_SPACE -> 507;
            case RATE_LIMITED -> 429;
            case CHUNK_CORRUPT, DOWNLOAD_INCOMPLETE -> 502;
            case SCHEMA_INVALID,
                    UNSUPPORTED_FORMAT_VERSION,
                    UNKNOWN_TABLE,
                    UNKNOWN_FIELD,
                    TYPE_MISMATCH,
                    OPERATION_NOT_ALLOWED,
                    INVALID_CLOCK,
                    INVALID_ID,
                    SCOPE_CHANGE,
                    CLOCK_SKEW -> 422;
            case UPGRADE_REQUIRED -> 426;
            case UNAVAILABLE -> 503;
            case INTERNAL -> 500;
        };
    }
}
