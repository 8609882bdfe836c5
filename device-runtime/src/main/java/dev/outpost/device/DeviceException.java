package dev.outpost.device;

/** A failure the command line reports as one line and an exit code. */
public class DeviceException extends RuntimeException {
    private final ExitCode exitCode;

    public DeviceException(ExitCode exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public DeviceException(ExitCode exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public ExitCode exitCode() {
        return exitCode;
    }
}
