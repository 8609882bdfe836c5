package dev.outpost.device;

/** The documented exit codes of {@code outpost} (DESIGN.md section 6); scripts rely on them. */
public enum ExitCode {
    OK(0),
    /** The command line itself is wrong: unknown command, missing argument. */
    USAGE(1),
    /** The input does not fit the schema or names something that is not there. */
    BAD_INPUT(2),
    /** The server could not be reached or failed; nothing local was lost, try again later. */
    UNREACHABLE(3),
    /** The server refused (credential, scope, version); the message says why, refused changes stay listed. */
    REFUSED(4),
    /** The local store (home folder, SQLite file) could not be read or written. */
    STORAGE(5);

    public final int code;

    ExitCode(int code) {
        this.code = code;
    }
}
