package dev.outpost.device.home;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Where the key of an encrypted device database comes from: a file ({@code file:/path}), an environment variable
 * ({@code env:NAME}) or a command whose output is the key ({@code command:...}, run by {@code /bin/sh -c}: a platform
 * keystore's client). The home keeps the source, never the key ({@link DeviceHome#DB_KEY_SOURCE_FILE}); the key is
 * fetched each time the database opens. {@link #NONE}: the database is not encrypted.
 *
 * <p>A key is text (its surrounding white space trimmed, so a file ending in a newline works); SQLite3 Multiple
 * Ciphers derives the page key from it (PBKDF2-SHA256). Any failure to get it is exit code 5 with a one-line reason:
 * the database stays as it is.
 */
public record DatabaseKeySource(Kind kind, String value) {
    public enum Kind {
        NONE,
        FILE,
        ENV,
        COMMAND
    }

    public static final DatabaseKeySource NONE = new DatabaseKeySource(Kind.NONE, "");

    /** How long a key command may take: a keystore that asks its user to unlock it has that long. */
    static final long COMMAND_TIMEOUT_S = 60;

    public static DatabaseKeySource file(Path file) {
        return new DatabaseKeySource(
                Kind.FILE, file.toAbsolutePath().normalize().toString());
    }

    public static DatabaseKeySource env(String name) {
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new DeviceException(ExitCode.BAD_INPUT, "'" + name + "' is not an environment variable name");
        }
        return new DatabaseKeySource(Kind.ENV, name);
    }

    public static DatabaseKeySource command(String command) {
        if (command.isBlank() || command.contains("\n")) {
            throw new DeviceException(ExitCode.BAD_INPUT, "a key command is one non-empty line");
        }
        return new DatabaseKeySource(Kind.COMMAND, command);
    }

    /** The form kept in the home: {@code none}, {@code file:PATH}, {@code env:NAME} or {@code command:CMD}. */
    @Override
    public String toString() {
        return kind == Kind.NONE ? "none" : kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + value;
    }

    /** Reads the form {@link #toString} writes; anything else is a damaged home (exit 5). */
    public static DatabaseKeySource parse(String text) {
        String t = text.strip();
        int colon = t.indexOf(':');
        String kind = colon < 0 ? t : t.substring(0, colon);
        String value = colon < 0 ? "" : t.substring(colon + 1);
        return switch (kind) {
            case "none" -> NONE;
            case "file" -> new DatabaseKeySource(Kind.FILE, value);
            case "env" -> new DatabaseKeySource(Kind.ENV, value);
            case "command" -> new DatabaseKeySource(Kind.COMMAND, value);
            default -> throw new DeviceException(ExitCode.STORAGE, "the database key source '" + t + "' is not known");
        };
    }

    public boolean encrypted() {
        return kind != Kind.NONE;
    }

    /** The key, fetched now; null for {@link #NONE}. */
    public String key() {
        String key = switch (kind) {
            case NONE -> null;
            case FILE -> fromFile();
            case ENV -> fromEnv();
            case COMMAND -> fromCommand();
        };
        if (key != null && key.isEmpty()) {
            throw failure("is empty");
        }
        if (key != null && key.chars().anyMatch(c -> c < 0x20)) {
            throw failure("holds control characters");
        }
        return key;
    }

    private String fromFile() {
        try {
            return Files.readString(Path.of(value)).strip();
        } catch (java.nio.file.NoSuchFileException e) {
            throw failure("does not exist");
        } catch (IOException e) {
            throw failure("cannot be read: " + e.getMessage());
        }
    }

    private String fromEnv() {
        String v = System.getenv(value);
        if (v == null) {
            throw failure("is not set");
        }
        return v.strip();
    }

    private String fromCommand() {
        try {
            Process p = new ProcessBuilder("/bin/sh", "-c", value)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            // Waited for before its output is read (a key fits in the pipe's buffer): a command that hangs is stopped.
            if (!p.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw failure("did not finish in " + COMMAND_TIMEOUT_S + " s");
            }
            if (p.exitValue() != 0) {
                throw failure("exited with " + p.exitValue());
            }
            return new String(p.getInputStream().readNBytes(64 * 1024), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw failure("cannot be run: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure("was interrupted");
        }
    }

    private DeviceException failure(String why) {
        return new DeviceException(ExitCode.STORAGE, "the database key (" + this + ") " + why);
    }
}
