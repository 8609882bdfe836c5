package dev.outpost.device.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Whether a freshly activated version works. With a command, it runs through {@code /bin/sh -c} with
 * {@code OUTPOST_MODEL_PATH}, {@code OUTPOST_MODEL_VERSION} and {@code OUTPOST_MODEL_ARTIFACT} set, and exit status 0
 * means healthy; without one, the file must open through the {@code current} link with the signed size, and its first
 * and last chunks must match their hashes (the whole file was verified just before the switch).
 *
 * @param command the shell command, or {@code null} for the built-in check
 * @param tries how many failed runs make the version unhealthy
 */
public record HealthCheck(String command, int tries) {
    public static final int TRIES_DEFAULT = 3;
    /** A check that runs longer counts as failed. */
    static final long TIMEOUT_S = 120;

    public HealthCheck {
        if (tries < 1 || tries > 100) {
            throw new IllegalArgumentException("health tries must be 1-100");
        }
    }

    public static HealthCheck builtIn() {
        return new HealthCheck(null, 1);
    }

    /** One run: healthy or not. */
    boolean passes(String artifact, long version, Path modelPath, dev.outpost.model.artifact.Manifest m)
            throws IOException {
        if (command == null || command.isBlank()) {
            // The whole file was verified just before the switch; here it must open through the link and its
            // first and last chunks must read back as signed.
            return ModelSlots.loads(modelPath, m);
        }
        ProcessBuilder pb = new ProcessBuilder(List.of("/bin/sh", "-c", command));
        pb.environment().put("OUTPOST_MODEL_PATH", modelPath.toString());
        pb.environment().put("OUTPOST_MODEL_VERSION", Long.toString(version));
        pb.environment().put("OUTPOST_MODEL_ARTIFACT", artifact);
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        try {
            if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
