package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.model.HealthCheck;
import dev.outpost.device.model.ModelUpdater;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's key ceremony end to end, with the real {@code outpost keys} commands, the real service restarted with
 * each key, and real devices: the root delegates a signing key, the service rotates to a new one and devices keep
 * installing (including a version whose manifest the old key signed); a key another root delegates is refused; a
 * delegation past its expiry is refused; nothing a refusal touches is activated.
 */
class KeyRotationIT {
    private static final ModelUpdater.Progress QUIET = (phase, done, steps, bytes, planned) -> {};

    @TempDir
    Path dir;

    /** The service's settings from a {@code service.env} that {@code outpost keys online} wrote. */
    private static Map<String, String> env(Path file) throws Exception {
        Map<String, String> env = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            int eq = line.indexOf('=');
            env.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return env;
    }

    private Map<String, String> online(Path root, String name, String... more) throws Exception {
        Outpost ops = new Outpost(dir.resolve("ops-home"));
        var args = new java.util.ArrayList<>(java.util.List.of(
                "keys",
                "online",
                "--root",
                root.toString(),
                "--out",
                dir.resolve(name).toString()));
        args.addAll(java.util.List.of(more));
        String out = ops.run(args.toArray(String[]::new)).ok().out();
        assertTrue(out.contains("delegated by root"), out);
        Path file = dir.resolve(name).resolve("service.env");
        assertEquals(
                "rw-------",
                java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        return env(file);
    }

    private static String keyPath(Map<String, String> env) {
        return "/signing-key/"
                + dev.outpost.model.artifact.SigningKeys.keyId(dev.outpost.model.artifact.SigningKeys.decodePublic(
                        env.get("OUTPOST_ARTIFACTS_SIGNING_KEY_PUBLIC")));
    }

    @Test
    void theServiceRotatesItsKeyAndDevicesKeepInstallingWhileKeysTheRootDidNotDelegateAreRefused() throws Exception {
        Outpost ops = new Outpost(dir.resolve("ops-home"));
        ops.run("keys", "root", "--out", dir.resolve("root").toString()).ok();
        Path rootKey = dir.resolve("root/root.key");
        Path rootPub = dir.resolve("root/root.pub");
        assertEquals(
                "rw-------",
                java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(rootKey)));
        assertEquals(
                2,
                ops.run("keys", "root", "--out", dir.resolve("root").toString()).exit(),
                "a root is made once");

        Path v1 = ModelUpdateIT.weights(dir, "k1.bin", 81, 2 << 20, false);
        Path v2 = ModelUpdateIT.weights(dir, "k2.bin", 81, 2 << 20, true);
        Path v3 = ModelUpdateIT.weights(dir, "k3.bin", 82, 2 << 20, false);
        Path serviceDir = dir.resolve("service");
        int port = Service.freePort();
        Outpost early = new Outpost(dir.resolve("early"));
        Map<String, String> first = online(rootKey, "k1");
        try (Service s = Service.start(serviceDir, port, first)) {
            s.upload("rotating", 1, v1);
            s.desire("rotating", 1);
            early.run(
                            "init",
                            "--server",
                            s.url,
                            "--device-id",
                            "early",
                            "--token",
                            s.register("early", "nakuru"),
                            "--root-key",
                            rootPub.toString())
                    .ok();
            assertTrue(early.run("model", "update", "rotating").ok().out().contains("installed rotating version 1"));
            // No trust on first use: a device given neither a root nor a key installs nothing.
            Outpost unkeyed = new Outpost(dir.resolve("unkeyed"));
            unkeyed.run("init", "--server", s.url, "--device-id", "unkeyed", "--token", s.register("unkeyed", "nakuru"))
                    .ok();
            Outpost.Result r = unkeyed.run("model", "update", "rotating");
            assertEquals(4, r.exit(), r.err());
            assertTrue(r.err().contains("trusts no model key"), r.err());
            assertTrue(!Files.exists(unkeyed.home.resolve("models/rotating/current")), "nothing may be activated");
        }

        // Rotation: a new signing key, delegated by the same root, and the service restarted with it.
        Map<String, String> second = online(rootKey, "k2", "--days", "30");
        Outpost late = new Outpost(dir.resolve("late"));
        try (Service s = Service.start(serviceDir, port, second)) {
            // A device set up now knows only the new key: version 1's manifest, signed by the old key, is served
            // signed again by the new one.
            late.run(
                            "init",
                            "--server",
                            s.url,
                            "--device-id",
                            "late",
                            "--token",
                            s.register("late", "nakuru"),
                            "--root-key",
                            rootPub.toString())
                    .ok();
            assertTrue(late.run("model", "update", "rotating").ok().out().contains("installed rotating version 1"));
            s.upload("rotating", 2, v2);
            s.desire("rotating", 2);
            for (Outpost d : new Outpost[] {early, late}) {
                String out = d.run("model", "update", "rotating").ok().out();
                assertTrue(out.contains("installed rotating version 2 (from version 1)"), out);
                ModelUpdateIT.assertActive(d, "rotating", v2);
            }
        }

        // A key another root delegates (the service's key material replaced by someone else's): refused.
        Outpost rogueOps = new Outpost(dir.resolve("rogue-home"));
        rogueOps.run("keys", "root", "--out", dir.resolve("rogue").toString()).ok();
        Map<String, String> rogue = online(dir.resolve("rogue/root.key"), "k-rogue");
        try (Service s = Service.start(serviceDir, port, rogue)) {
            s.upload("rotating", 3, v3);
            s.desire("rotating", 3);
            Outpost newcomer = new Outpost(dir.resolve("newcomer"));
            newcomer.run(
                            "init",
                            "--server",
                            s.url,
                            "--device-id",
                            "newcomer",
                            "--token",
                            s.register("newcomer", "nakuru"),
                            "--root-key",
                            rootPub.toString())
                    .ok();
            Outpost.Result r = newcomer.run("model", "update", "rotating");
            assertEquals(4, r.exit(), r.err());
            assertTrue(r.err().contains("signature-invalid") && r.err().contains("not by the root key"), r.err());
            assertTrue(!Files.exists(newcomer.home.resolve("models/rotating/current")), "nothing may be activated");
            // A device holding a verified assignment keeps it: the rogue one does not replace it.
            String out = early.run("model", "update", "rotating").ok().out();
            assertTrue(out.contains("rotating is at version 2 already"), out);
            ModelUpdateIT.assertActive(early, "rotating", v2);
        }

        try (Service s = Service.start(serviceDir, port, second)) {
            // The delegation of the second key runs 30 days: a month and more on, it signs nothing new.
            long inFiveWeeks = System.currentTimeMillis() + 35L * 86_400_000L;
            try (OutpostDevice device = OutpostDevice.open(early.home)) {
                device.models().checkIn();
                DeviceException expired = assertThrows(
                        DeviceException.class,
                        () -> device.models(() -> inFiveWeeks).update("rotating", HealthCheck.builtIn(), QUIET));
                assertTrue(expired.getMessage().contains("key-expired"), expired.getMessage());
            }
            ModelUpdateIT.assertActive(early, "rotating", v2);
            // Today the same delegation is good, and the same assignment installs.
            String out = early.run("model", "update", "rotating").ok().out();
            assertTrue(out.contains("installed rotating version 3 (from version 2)"), out);
            ModelUpdateIT.assertActive(early, "rotating", v3);

            // Each key the service was started with is in the audit trail, once per change, oldest first.
            java.util.List<String> keysInUse = new java.util.ArrayList<>();
            for (var e : TestJson.parse(s.admin("/v1/admin/audit?limit=1000"))) {
                if (e.get("method").asText().equals("KEY")) {
                    keysInUse.add(0, e.get("path").asText());
                }
            }
            assertEquals(
                    java.util.List.of(keyPath(first), keyPath(second), keyPath(rogue), keyPath(second)), keysInUse);
        }
    }
}
