package dev.outpost.model;

import java.util.Objects;

/**
 * A classified failure: a stable {@link ErrorCode} and a message for people. The message names the offending entry
 * (table, field, line) and never a Java class.
 */
public class OutpostException extends RuntimeException {
    private final ErrorCode code;

    public OutpostException(ErrorCode code, String message) {
        super(message);
        this.code = Objects.requireNonNull(code);
    }

    public OutpostException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code);
    }

    public ErrorCode code() {
        return code;
    }
}
