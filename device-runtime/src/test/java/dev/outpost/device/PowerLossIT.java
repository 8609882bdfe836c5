package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.model.ModelSlots;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.TrustedKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Power cuts, simulated honestly ({@link PowerCut}): the real {@code outpost} stops at a seeded file operation and
 * every write and name change no fsync made durable is undone, across all the processes since the last cut. After
 * each cut the database opens and passes SQLite's integrity check, every write a command acknowledged (exit 0) is
 * there, counters hold exactly the acknowledged increments (plus the cut one, if its commit was durable), and a model
 * install leaves a whole, verified version active. Replay with {@code -Doutpost.power.seed=SEED}.
 */
class PowerLossIT extends WithService {
    private static final int WRITE_CUTS = Integer.getInteger("outpost.power.writeCuts", 60);
    private static final int INSTALL_CUTS = Integer.getInteger("outpost.power.installCuts", 200);

    /** Where the last command's error output went: a failing assertion shows it. */
    private static Path errors;

    private static String lastError() throws Exception {
        return Files.readString(errors).strip();
    }

    private static Process start(Outpost d, Map<String, String> env, String... args) throws Exception {
        errors = dir.resolve("power-errors.txt");
        ProcessBuilder pb = new ProcessBuilder(d.command(args))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(errors.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("outpost " + String.join(" ", args) + " did not end in 120 s");
        }
        return p;
    }

    private static String integrity(Outpost d) throws Exception {
        Path db = d.home.resolve(DeviceHome.DB_FILE);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                ResultSet r = c.createStatement().executeQuery("pragma integrity_check")) {
            r.next();
            return r.getString(1);
        }
    }

    @Test
    void aPowerCutDuringLocalWritesLosesNoAcknowledgedWrite() throws Exception {
        long seed = Long.getLong("outpost.power.seed", System.nanoTime());
        Random random = new Random(seed);
        Outpost device = new Outpost(dir.resolve("power-writes"));
        service.initTrusting(device, "power-writes", service.url).ok();
        PowerCut power = new PowerCut(device.home, dir.resolve("power-writes-log"));

        // How many file operations one write takes, to put the cuts inside writes.
        start(device, power.env(0), "put", "farmer", "calibrate", "name=calibrate");
        long perWrite = power.operations();
        assertTrue(perWrite > 3, "the shim saw " + perWrite + " operations in a write");
        power.settle();

        Map<String, String> acknowledged = new TreeMap<>();
        long increments = 0;
        int cuts = 0;
        int landedAtCut = 0;
        int undoneWrites = 0;
        for (int round = 0; cuts < WRITE_CUTS; round++) {
            // One or two acknowledged writes (their unsynced bytes stay at risk until the cut) ...
            for (int k = 0; k < 1 + random.nextInt(2); k++) {
                String row = "f-" + round + "-" + k;
                boolean counter = random.nextInt(3) == 0;
                Process p = counter
                        ? start(device, power.env(0), "add", "crop_record", "c1", "bags_harvested", "1")
                        : start(device, power.env(0), "put", "farmer", row, "name=n-" + row);
                assertEquals(0, p.exitValue(), "seed " + seed + ": an unfaulted write failed: " + lastError());
                if (counter) {
                    increments++;
                } else {
                    acknowledged.put(row, "n-" + row);
                }
            }
            // ... then the cut, inside the next write.
            String row = "cut-" + round;
            boolean counter = random.nextBoolean();
            long cutAt = 1 + random.nextLong(perWrite + 2);
            Process p = counter
                    ? start(device, power.env(cutAt), "add", "crop_record", "c1", "bags_harvested", "1")
                    : start(device, power.env(cutAt), "put", "farmer", row, "name=n-" + row);
            if (p.exitValue() == 0) {
                // The cut came after the write ended: acknowledged.
                if (counter) {
                    increments++;
                } else {
                    acknowledged.put(row, "n-" + row);
                }
            } else {
                assertEquals(137, p.exitValue(), "seed " + seed + ": halted by the cut, not " + lastError());
            }
            PowerCut.Undone undone = power.cut();
            cuts++;
            undoneWrites += undone.writes();

            assertEquals("ok", integrity(device), "seed " + seed + ", cut " + cuts);
            Map<String, String> names = new HashMap<>();
            long bags;
            try (OutpostDevice lib = OutpostDevice.open(device.home)) {
                for (var r : lib.rows().query("select id, name from farmer", List.of())) {
                    names.put((String) r.get("id"), (String) r.get("name"));
                }
                List<Map<String, Object>> c1 =
                        lib.rows().query("select bags_harvested from crop_record where id = 'c1'", List.of());
                bags = c1.isEmpty() ? 0 : ((Number) c1.get(0).get("bags_harvested")).longValue();
            }
            for (var e : acknowledged.entrySet()) {
                assertEquals(
                        e.getValue(),
                        names.get(e.getKey()),
                        "seed " + seed + ": acknowledged write lost at cut " + cuts);
            }
            if (p.exitValue() != 0) {
                boolean landed = counter ? bags == increments + 1 : names.containsKey(row);
                if (landed) {
                    // Its commit was durable before the halt: the write is there whole, as if acknowledged.
                    landedAtCut++;
                    if (counter) {
                        increments++;
                    } else {
                        acknowledged.put(row, "n-" + row);
                    }
                }
            }
            assertEquals(increments, bags, "seed " + seed + ": counter after cut " + cuts);
        }
        assertTrue(undoneWrites > 0, "seed " + seed + ": no cut undid an unsynced write: the shim saw nothing");

        // Everything kept goes out and reaches another device.
        device.run("sync").ok();
        Outpost other = new Outpost(dir.resolve("power-other"));
        service.initTrusting(other, "power-other", service.url).ok();
        other.run("sync").ok();
        try (OutpostDevice lib = OutpostDevice.open(other.home)) {
            for (var e : acknowledged.entrySet()) {
                var got = lib.rows().query("select name from farmer where id = ?", List.of(e.getKey()));
                assertEquals(List.of(Map.of("name", e.getValue())), got, "seed " + seed);
            }
            var c1 = lib.rows().query("select bags_harvested from crop_record where id = 'c1'", List.of());
            assertEquals(increments, ((Number) c1.get(0).get("bags_harvested")).longValue(), "seed " + seed);
        }
        System.out.printf(
                "power loss during writes: seed %d, %d cuts (%d operations per write), %d writes kept, %d"
                        + " cut writes whose commit was durable, %d unsynced writes undone%n",
                seed, cuts, perWrite, acknowledged.size() + increments, landedAtCut, undoneWrites);
    }

    @Test
    void aPowerCutDuringAnInstallLeavesAVerifiedVersionActive() throws Exception {
        long seed = Long.getLong("outpost.power.seed", System.nanoTime());
        Random random = new Random(seed);
        Map<Long, Path> versions = new TreeMap<>();
        Map<Long, Sha256> sha = new HashMap<>();
        for (long v = 1; v <= 3; v++) {
            Path file = ModelUpdateIT.weights(dir, "power-v" + v + ".bin", 60 + v % 2, 1 << 20, v == 2);
            versions.put(v, file);
            service.upload("power", v, file);
            sha.put(v, Sha256.digest(Files.readAllBytes(file)));
        }
        long desired = 1;
        service.desire("power", desired);
        Outpost device = new Outpost(dir.resolve("power-installs"));
        service.initTrusting(device, "power-installs", service.url).ok();
        PowerCut power = new PowerCut(device.home, dir.resolve("power-installs-log"));
        TrustedKeys key = TrustedKeys.of(TestKeys.ONLINE.publicKey());

        int cuts = 0;
        int installs = 0;
        long maxOps = 0;
        int undoneNames = 0;
        Map<String, Integer> activeAfterCut = new TreeMap<>();
        long installed = 0;
        String lastLog = "";
        int rounds = 0;
        while (cuts < INSTALL_CUTS) {
            // Cuts spread over the whole install: the op count of a full one is learnt as installs complete.
            long cutAt = maxOps == 0 ? 0 : 1 + random.nextLong(maxOps);
            long logged = power.operations();
            Process p = start(device, power.env(cutAt), "model", "update", "power");
            long ops = power.operations() - logged; // this run's: the log spans runs until a cut
            rounds++;
            assertTrue(rounds < 4 * INSTALL_CUTS, "seed " + seed + ": " + cuts + " cuts in " + rounds + " rounds");
            if (Boolean.getBoolean("outpost.power.trace")) {
                System.out.printf(
                        "round %d: cut at %d of %d, exit %d, desired %d, installed %d: %s%n",
                        rounds, cutAt, ops, p.exitValue(), desired, installed, lastError());
            }
            if (p.exitValue() == 0) {
                maxOps = Math.max(maxOps, ops);
                Optional<ModelSlots.Slot> active =
                        new ModelSlots(device.home.resolve("models"), "power").getActive(key);
                if (active.isPresent() && active.get().manifest().version() == desired) {
                    installs++;
                    installed = desired;
                    desired = desired % 3 + 1;
                    service.desire("power", desired);
                }
                if (cutAt == 0) {
                    power.settle(); // the first install, unfaulted, is on disk: cuts start from it
                }
                continue;
            }
            if (p.exitValue() != 137) {
                // The operations that led here, for the report: the previous cut's log and this run's.
                Files.writeString(Path.of("target/power-failure.log"), lastLog + "---\n" + power.describe());
            }
            assertEquals(137, p.exitValue(), "seed " + seed + ": halted by the cut, not " + lastError());
            lastLog = power.describe();
            undoneNames += power.cut().names();
            cuts++;

            assertEquals("ok", integrity(device), "seed " + seed + ", cut " + cuts);
            Optional<ModelSlots.Slot> active = new ModelSlots(device.home.resolve("models"), "power").getActive(key);
            assertTrue(active.isPresent(), "seed " + seed + ": no version active after cut " + cuts);
            long v = active.get().manifest().version();
            assertTrue(
                    ModelSlots.verifies(active.get().file(), active.get().manifest()),
                    "seed " + seed + ": active version " + v + " does not verify after cut " + cuts);
            assertEquals(sha.get(v), active.get().manifest().sha256(), "seed " + seed + ": wrong bytes for " + v);
            assertTrue(
                    v == installed || v == desired,
                    "seed " + seed + ": version " + v + " active, neither the installed " + installed
                            + " nor the desired " + desired);
            activeAfterCut.merge(v == installed ? "previous" : "new", 1, Integer::sum);
            if (v == desired) {
                // The switch was durable before the cut: the install is done.
                installs++;
                installed = desired;
                desired = desired % 3 + 1;
                service.desire("power", desired);
            }
            try (OutpostDevice lib = OutpostDevice.open(device.home)) {
                lib.models().statusJson(); // the install record reads back
            }
        }
        // An install the last cut interrupted after its switch is finished first; the next run goes to the desired.
        for (int i = 0; i < 2; i++) {
            Outpost.Result last = device.run("model", "update", "power");
            assertEquals(0, last.exit(), "seed " + seed + ": update after the cuts: " + last.err());
            Optional<ModelSlots.Slot> active = new ModelSlots(device.home.resolve("models"), "power").getActive(key);
            if (active.isPresent() && active.get().manifest().version() == desired) {
                break;
            }
        }
        ModelUpdateIT.assertActive(device, "power", versions.get(desired));
        assertTrue(installs >= 3, "seed " + seed + ": only " + installs + " installs completed");
        assertTrue(activeAfterCut.getOrDefault("previous", 0) > 0, "seed " + seed + ": " + activeAfterCut);
        System.out.printf(
                "power loss during installs: seed %d, %d cuts over up to %d operations, %d installs completed, active"
                        + " after a cut %s, %d names undone%n",
                seed, cuts, maxOps, installs, activeAfterCut, undoneNames);
    }
}
