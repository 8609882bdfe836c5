package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.model.ModelSlots;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.TrustedKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Kills {@code outpost model update} at seeded random moments (SIGKILL from outside) and at named points of the
 * download and the activation (the process halts itself there), at least 50 times in CI, while the desired version cycles 1, 2, 3.
 * After every kill: whatever is active is a whole, verified version (its bytes are exactly that version's), and an
 * interrupted download never goes back on the steps it had finished. Replay with {@code -Doutpost.crash.seed=SEED}.
 */
class ModelCrashIT extends WithService {
    private static final int KILLS = Integer.getInteger("outpost.crash.kills", 50);
    private static final Pattern INSTALL =
            Pattern.compile("\"install\":\\{\"targetVersion\":(\\d+),\"phase\":\"(\\w+)\",\"stepsDone\":(\\d+)");

    @Test
    void killingAnUpdateAnywhereLeavesAVerifiedVersionActiveAndResumesDownloads() throws Exception {
        long seed = Long.getLong("outpost.crash.seed", System.nanoTime());
        Random random = new Random(seed);
        Map<Long, Path> versions = new TreeMap<>();
        versions.put(1L, ModelUpdateIT.weights(dir, "crash-v1.bin", 51, 12 << 20, false));
        versions.put(2L, ModelUpdateIT.weights(dir, "crash-v2.bin", 51, 12 << 20, true));
        versions.put(3L, ModelUpdateIT.weights(dir, "crash-v3.bin", 52, 12 << 20, false));
        Map<Long, Sha256> sha = new HashMap<>();
        for (var v : versions.entrySet()) {
            service.upload("crash", v.getKey(), v.getValue());
            sha.put(v.getKey(), Sha256.digest(Files.readAllBytes(v.getValue())));
        }
        long desired = 1;
        service.desire("crash", desired);
        String id = "officer-crash";
        Outpost device = new Outpost(dir.resolve(id));
        service.initTrusting(device, id, service.url).ok();
        TrustedKeys key = TrustedKeys.of(TestKeys.ONLINE.publicKey());
        // The health check compares the live file with the version's original bytes: a real content check.
        String health = "cmp -s \"$OUTPOST_MODEL_PATH\" \"" + dir + "/crash-v$OUTPOST_MODEL_VERSION.bin\"";

        int kills = 0;
        int rounds = 0;
        int installs = 0;
        Map<String, Integer> killsByPhase = new TreeMap<>();
        double delayMaxMs = 1500;
        long lastTarget = -1;
        int lastSteps = 0;
        while (kills < KILLS && rounds < 4 * KILLS) {
            rounds++;
            List<String> command =
                    device.command("model", "update", "crash", "--health-cmd", health, "--health-tries", "2");
            ProcessBuilder pb = new ProcessBuilder(command)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD);
            boolean pointed = rounds % 4 == 0 || rounds % 4 == 2;
            if (rounds % 4 == 0) {
                // Halt at a named point of activation: between completing the slot and switching, or right after.
                pb.environment().put("OUTPOST_CRASH_AT", "activate:" + (1 + random.nextInt(2)));
            } else if (rounds % 4 == 2) {
                // Halt right after a progress commit in the download (chunks written after it are found by hash).
                pb.environment().put("OUTPOST_CRASH_AT", "download:" + (1 + random.nextInt(2)));
            }
            Process p = pb.start();
            boolean killed;
            if (pointed) {
                p.waitFor(120, TimeUnit.SECONDS);
                killed = p.exitValue() == 137;
            } else {
                // The first ~250 ms are the JVM starting and checking in; most kills should land later.
                long delayMs = 250 + random.nextInt((int) delayMaxMs);
                if (p.waitFor(delayMs, TimeUnit.MILLISECONDS)) {
                    killed = false;
                    delayMaxMs = Math.max(200, delayMaxMs * 0.85);
                } else {
                    p.destroyForcibly(); // SIGKILL
                    p.waitFor();
                    killed = true;
                    delayMaxMs = Math.min(6000, delayMaxMs * 1.1);
                }
            }
            String status;
            try (OutpostDevice lib = OutpostDevice.open(device.home)) {
                status = lib.models().statusJson();
            }
            Optional<ModelSlots.Slot> active = new ModelSlots(device.home.resolve("models"), "crash").getActive(key);
            if (active.isPresent()) {
                long v = active.get().manifest().version();
                assertTrue(
                        ModelSlots.verifies(active.get().file(), active.get().manifest()),
                        "seed " + seed + ": active version " + v + " does not verify");
                assertEquals(sha.get(v), active.get().manifest().sha256(), "seed " + seed + ": wrong bytes for " + v);
            }
            Matcher m = INSTALL.matcher(status);
            if (killed) {
                kills++;
                killsByPhase.merge(m.find() ? m.group(2) : "before-download", 1, Integer::sum);
                m.reset();
            }
            if (m.find() && m.group(2).equals("downloading")) {
                long target = Long.parseLong(m.group(1));
                int steps = Integer.parseInt(m.group(3));
                if (target == lastTarget) {
                    assertTrue(
                            steps >= lastSteps,
                            "seed " + seed + ": the download went back from " + lastSteps + " to " + steps + " steps");
                }
                lastTarget = target;
                lastSteps = steps;
            }
            if (!killed
                    && p.exitValue() == 0
                    && active.isPresent()
                    && active.get().manifest().version() == desired) {
                installs++;
                desired = desired % 3 + 1;
                service.desire("crash", desired);
                lastTarget = -1;
            }
        }
        assertTrue(kills >= KILLS, "seed " + seed + ": only " + kills + " kills in " + rounds + " rounds");
        assertTrue(killsByPhase.getOrDefault("downloading", 0) > 0, "seed " + seed + ": " + killsByPhase);
        assertTrue(
                killsByPhase.getOrDefault("activating", 0) + killsByPhase.getOrDefault("checking", 0) > 0,
                "seed " + seed + ": " + killsByPhase);
        Outpost.Result last = device.run("model", "update", "crash", "--health-cmd", health);
        assertEquals(0, last.exit(), "seed " + seed + ": final update failed: " + last.err());
        ModelUpdateIT.assertActive(device, "crash", versions.get(desired));
        System.out.printf(
                "model crash test: seed %d, %d rounds, %d kills %s, %d installs completed%n",
                seed, rounds, kills, killsByPhase, installs);
        assertArrayEquals(
                Files.readAllBytes(versions.get(desired)),
                Files.readAllBytes(device.home.resolve("models/crash/current/model.bin")));
    }
}
