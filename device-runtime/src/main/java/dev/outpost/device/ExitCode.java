package dev.outpost.device;

import dev.outpost.model.ErrorCode;

/**
 * The documented exit codes of {@code outpost} (DESIGN.md section 6); scripts rely on them. The one place where a
 * service error code becomes an exit code ({@link #of}) and an exit code becomes the local API's HTTP status
 * ({@link #httpStatus}).
 */
public enum ExitCode {
    OK(0, 200),
    /** The command line itself is wrong: unknown command, missing argument. */
    USAGE(1, 400),
    /** The input does not fit the schema or names something that is not there. */
    BAD_INPUT(2, 400),
    /** The server could not be reached or failed; nothing local was lost, try again later. */
    UNREACHABLE(3, 502),
    /** The server refused (credential, scope, version); the message says why, refused changes stay listed. */
    REFUSED(4, 502),
    /** The local store (home folder, SQLite file) could not be read or written. */
    STORAGE(5, 500);

    public final int code;
    private final int httpStatus;

    ExitCode(int code, int httpStatus) {
        this.code = code;
        this.httpStatus = httpStatus;
    }

    /** The local API's status for a failure with this exit code. */
    public int httpStatus() {
        return httpStatus;
    }

    /**
     * The exit code for a failure the service or the device's checks classified: retriable ones are "try again
     * later" (3), except running out of local space (5); permanent ones and corrupt data are refusals (4).
     */
    public static ExitCode of(ErrorCode code) {
        return switch (code.kind()) {
            case RETRIABLE -> code == ErrorCode.INSUFFICIENT_SPACE ? STORAGE : UNREACHABLE;
            case PERMANENT, REFETCH -> REFUSED;
        };
    }
}
