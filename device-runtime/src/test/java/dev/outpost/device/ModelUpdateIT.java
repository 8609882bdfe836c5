package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.home.DeviceHome;
import dev.outpost.model.artifact.RetrainedModels;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.SyntheticWeights;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Model installs end to end: the real service, the real {@code outpost} file, seeded weight files. Every failure
 * case checks that nothing unverified became active.
 */
class ModelUpdateIT extends WithService {
    static final int SIZE = 8 << 20;
    private static final Pattern DOWNLOADED =
            Pattern.compile("downloaded ([0-9.]+) MB \\((\\d+) bytes\\) of ([0-9.]+) MB");
    static Path v1;
    static Path v2;

    @BeforeAll
    static void weights() throws IOException {
        v1 = weights(dir, "v1.bin", 21, SIZE, false);
        v2 = weights(dir, "v2.bin", 21, SIZE, true);
    }

    static Path weights(Path dir, String name, long seed, long size, boolean tuned) throws IOException {
        Path file = dir.resolve(name);
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
            SyntheticWeights.write(out, seed, size, tuned);
        }
        return file;
    }

    @Test
    void updatesDifferentiallyKeepsThePreviousVersionAndSwitchesBackWithoutDownloading() throws Exception {
        service.upload("crop", 1, v1);
        service.upload("crop", 2, v2);
        service.desire("crop", 1);
        Outpost d = device("officer-model");

        String first = d.run("model", "update", "crop").ok().out();
        assertTrue(first.contains("installed crop version 1 (from nothing)"), first);
        assertActive(d, "crop", v1);

        service.desire("crop", 2);
        d.run("sync").ok(); // the assignment arrives in the sync answer
        String second = d.run("model", "update", "crop", "--offline").ok().out();
        assertTrue(second.contains("installed crop version 2 (from version 1)"), second);
        Matcher m = DOWNLOADED.matcher(second);
        assertTrue(m.find(), second);
        double downloaded = Double.parseDouble(m.group(1));
        double full = Double.parseDouble(m.group(3));
        assertTrue(downloaded < full / 4, "a 5%-tuned, 1%-inserted version must not cost a quarter: " + second);
        assertActive(d, "crop", v2);
        String status = d.run("model", "status").ok().out();
        var crop = TestJson.artifact(status, "crop");
        assertEquals("b", crop.get("active").get("slot").asText(), status);
        assertEquals(2, crop.get("active").get("version").asLong(), status);
        assertEquals("a", crop.get("kept").get("slot").asText(), status);
        assertEquals(1, crop.get("kept").get("version").asLong(), status);

        String back = d.run("model", "rollback", "crop").ok().out();
        assertTrue(back.contains("switched to its kept version 1 without downloading"), back);
        assertActive(d, "crop", v1);
        assertTrue(TestJson.hasObject(
                service.admin("/v1/admin/artifacts/crop/devices"), java.util.Map.of("outcome", "rolled-back")));

        // Asked to run version 2 again: it is in the kept slot, so it comes back without a byte downloaded.
        String again = d.run("model", "update", "crop").ok().out();
        assertTrue(again.contains("switched to its kept version 2"), again);
        assertActive(d, "crop", v2);
        String report = service.admin("/v1/admin/artifacts/crop/devices");
        assertTrue(TestJson.hasObject(report, java.util.Map.of("activeVersion", "2", "outcome", "installed")), report);
    }

    @Test
    void aKeyThatDoesNotMatchRefusesEverythingAndInstallsNothing() throws Exception {
        service.upload("signed", 1, v1);
        service.desire("signed", 1);
        String id = "officer-wrong-key";
        Outpost d = new Outpost(dir.resolve(id));
        d.run(
                        "init",
                        "--server",
                        service.url,
                        "--device-id",
                        id,
                        "--token",
                        service.register(id, "nakuru"),
                        "--model-key",
                        SigningKeys.generate().publicBase64())
                .ok();
        Outpost.Result r = d.run("model", "update", "signed");
        assertEquals(4, r.exit(), r.err());
        assertTrue(r.err().contains("signature-invalid"), r.err());
        assertFalse(Files.exists(d.home.resolve("models/signed/current")), "nothing may be activated");
        // A refusal that retrying cannot cure: the background worker waits for an assignment of other content (the
        // re-signed copy each sync brings does not count)...
        d.run("sync").ok();
        assertTrue(
                TestJson.artifact(d.run("model", "status").ok().out(), "signed")
                        .path("refused")
                        .asBoolean(),
                "the worker leaves it alone");
        // ...and a new version is tried again.
        service.upload("signed", 2, v2);
        service.desire("signed", 2);
        d.run("sync").ok();
        assertFalse(
                TestJson.artifact(d.run("model", "status").ok().out(), "signed").has("refused"),
                "a new assignment is worth a try");
    }

    @Test
    void tamperedChunksAreRefetchedOnceThenRefusedAndNeverInstalled() throws Exception {
        Set<Path> before = blobs("chunks");
        service.upload("tampered", 1, weights(dir, "t1.bin", 77, 2 << 20, false));
        Set<Path> added = new HashSet<>(blobs("chunks"));
        added.removeAll(before);
        assertFalse(added.isEmpty());
        for (Path chunk : added) {
            byte[] b = Files.readAllBytes(chunk);
            b[b.length / 2] ^= 0x5a;
            Files.write(chunk, b);
        }
        service.desire("tampered", 1);
        Outpost d = device("officer-tampered");
        Outpost.Result r = d.run("model", "update", "tampered");
        assertEquals(4, r.exit(), r.err());
        assertTrue(r.err().contains("chunk-corrupt"), r.err());
        assertFalse(Files.exists(d.home.resolve("models/tampered/current")), "nothing may be activated");
        assertTrue(TestJson.hasObject(
                service.admin("/v1/admin/artifacts/tampered/devices"), java.util.Map.of("errorCode", "chunk-corrupt")));
    }

    @Test
    void aCorruptDeltaFallsBackToTheChunkAndTheResultStillVerifies() throws Exception {
        service.upload("delta", 1, v1);
        service.upload("delta", 2, v2);
        service.desire("delta", 1);
        Outpost d = device("officer-delta");
        d.run("model", "update", "delta").ok();
        // A first device makes the service compute the deltas; then every delta file is damaged.
        Outpost first = device("officer-delta-first");
        first.run("model", "update", "delta").ok();
        service.desire("delta", 2);
        first.run("model", "update", "delta").ok();
        for (Path delta : blobs("deltas")) {
            byte[] b = Files.readAllBytes(delta);
            b[b.length - 3] ^= 0x01;
            Files.write(delta, b);
        }
        String out = d.run("model", "update", "delta").ok().out();
        assertTrue(out.contains("installed delta version 2"), out);
        assertActive(d, "delta", v2);
    }

    @Test
    void aRetrainedModelArrivesAsTensorDeltasAndADamagedTensorDeltaFallsBackToTheChunk() throws Exception {
        // A network trained, then fine-tuned with Adam: every weight moved a little, so chunk-local deltas find
        // next to nothing to reuse and cost about the whole file; tensor deltas cost its changed low bits.
        RetrainedModels.Pair pair =
                RetrainedModels.train(new RetrainedModels.Recipe(32, 256, 3, 8, 16, 60, 1e-3, 40, 1e-5, 3));
        Path t1 = dir.resolve("tuned-v1.safetensors");
        Path t2 = dir.resolve("tuned-v2.safetensors");
        RetrainedModels.write(pair, false, RetrainedModels.Precision.F32, t1);
        RetrainedModels.write(pair, true, RetrainedModels.Precision.F32, t2);
        service.upload("tuned", 1, t1);
        service.upload("tuned", 2, t2);
        service.desire("tuned", 1);
        Outpost d = device("officer-tuned");
        Outpost damaged = device("officer-tuned-damaged");
        d.run("model", "update", "tuned").ok();
        damaged.run("model", "update", "tuned").ok();
        service.desire("tuned", 2);

        String out = d.run("model", "update", "tuned").ok().out();
        assertTrue(out.contains("installed tuned version 2 (from version 1)"), out);
        assertActive(d, "tuned", t2);
        Matcher m = DOWNLOADED.matcher(out);
        assertTrue(m.find(), out);
        long downloaded = Long.parseLong(m.group(2));
        assertTrue(downloaded < Files.size(t2) * 0.8, "tensor deltas carry the update: " + out);

        // Every delta file damaged: the device fetches those chunks whole, and what it installs still verifies.
        for (Path delta : blobs("deltas")) {
            byte[] b = Files.readAllBytes(delta);
            b[b.length / 2] ^= 0x10;
            Files.write(delta, b);
        }
        String fallback = damaged.run("model", "update", "tuned").ok().out();
        assertTrue(fallback.contains("installed tuned version 2 (from version 1)"), fallback);
        assertActive(damaged, "tuned", t2);
    }

    @Test
    void aHeldChunkThatRottedOnDiskIsFetchedAgainAndARottenKeptVersionIsNeverSwitchedTo() throws Exception {
        service.upload("rot", 1, v1);
        service.upload("rot", 2, v2);
        service.desire("rot", 1);
        Outpost d = device("officer-rot");
        d.run("model", "update", "rot").ok();
        // A bit flips in the installed version 1, early in the file where version 2 reuses its chunks.
        Path live = d.home.resolve("models/rot/current/model.bin").toRealPath();
        try (var ch = java.nio.channels.FileChannel.open(
                live, java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
            ch.read(b, 100_000);
            b.flip();
            b.put(0, (byte) (b.get(0) ^ 0x01));
            ch.write(b, 100_000);
        }
        service.desire("rot", 2);
        d.run("model", "update", "rot").ok();
        assertActive(d, "rot", v2);
        // The kept version 1 is damaged: switching back to it is refused, version 2 stays.
        Outpost.Result back = d.run("model", "rollback", "rot");
        assertEquals(4, back.exit(), back.err());
        assertTrue(back.err().contains("chunk-corrupt"), back.err());
        assertActive(d, "rot", v2);
    }

    @Test
    void anActiveManifestThatNoLongerVerifiesStopsTheUpdateBeforeTheKeptVersionIsTouched() throws Exception {
        service.upload("sig", 1, v1);
        service.upload("sig", 2, v2);
        service.upload("sig", 3, weights(dir, "sig-v3.bin", 22, SIZE, true));
        service.desire("sig", 1);
        Outpost d = device("officer-sig");
        d.run("model", "update", "sig").ok();
        service.desire("sig", 2);
        d.run("model", "update", "sig").ok();
        Path keptManifest = d.home.resolve("models/sig/a/manifest");
        byte[] kept = Files.readAllBytes(keptManifest);
        // The active version's signed manifest is damaged on disk (its signature's last byte).
        Path active = d.home.resolve("models/sig/current/manifest").toRealPath();
        byte[] manifest = Files.readAllBytes(active);
        manifest[manifest.length - 1] ^= 0x01;
        Files.write(active, manifest);

        // The update reads the active version at once and checks its signature beside its first downloads: the
        // refusal comes before the inactive slot, which keeps version 1, is cleared for version 3.
        service.desire("sig", 3);
        Outpost.Result r = d.run("model", "update", "sig");
        assertEquals(4, r.exit(), r.err());
        assertTrue(r.err().contains("signature-invalid"), r.err());
        assertTrue(Files.exists(keptManifest), "the kept version's manifest is where it was");
        assertArrayEquals(kept, Files.readAllBytes(keptManifest), "the kept version's manifest");
        assertArrayEquals(Files.readAllBytes(v1), Files.readAllBytes(d.home.resolve("models/sig/a/model.bin")));
        assertActive(d, "sig", v2);
        assertFalse(Files.exists(d.home.resolve("models/sig/a/manifest.partial")), "no download was started");
    }

    @Test
    void aFailingHealthCheckRevertsToThePreviousVersionAndSaysSo() throws Exception {
        service.upload("health", 1, v1);
        service.upload("health", 2, v2);
        service.desire("health", 1);
        Outpost d = device("officer-health");
        d.run("model", "update", "health").ok();
        service.desire("health", 2);
        Outpost.Result r = d.run(
                "model",
                "update",
                "health",
                "--health-cmd",
                "test \"$OUTPOST_MODEL_VERSION\" = 1",
                "--health-tries",
                "2");
        assertEquals(4, r.exit(), r.err());
        assertTrue(r.err().contains("health-check-failed") && r.err().contains("reverted to version 1"), r.err());
        assertActive(d, "health", v1);
        String report = service.admin("/v1/admin/artifacts/health/devices");
        assertTrue(TestJson.hasObject(report, java.util.Map.of("outcome", "reverted", "activeVersion", "1")), report);
        // The background worker does not retry a version that failed its health check.
        try (OutpostDevice lib = OutpostDevice.open(d.home)) {
            assertFalse(lib.models().wants("health"));
        }
    }

    @Test
    void aFullDiskIsRefusedUpFrontAndTheActiveVersionStays() throws Exception {
        service.upload("space", 1, weights(dir, "s1.bin", 5, 2 << 20, false));
        service.upload("space", 2, v1);
        service.desire("space", 1);
        Outpost d = device("officer-space");
        d.run("model", "update", "space").ok();
        service.desire("space", 2);
        // The models folder on a 20 MB file system holding version 1: version 2 (8 MB + margin) does not fit next to
        // it.
        Path models = d.home.resolve("models");
        Path copy = dir.resolve("space-copy");
        Files.createDirectories(copy);
        Outpost.Result r = d.run(
                List.of(
                        "unshare",
                        "-Urm",
                        "sh",
                        "-c",
                        "cp -a \"$1\"/. \"$2\" && mount -t tmpfs -o size=20m tmpfs \"$1\" && cp -a \"$2\"/. \"$1\""
                                + " && dd if=/dev/zero of=\"$1\"/filler bs=1M count=6 2>/dev/null && shift 2 && exec \"$@\"",
                        "sh",
                        models.toString(),
                        copy.toString()),
                "model",
                "update");
        assertEquals(5, r.exit(), r.out() + " / " + r.err());
        assertTrue(r.err().contains("insufficient-space"), r.err());
        // Outside the namespace the real folder was never touched: version 1 is active and whole.
        assertActive(d, "space", dir.resolve("s1.bin"));
        assertTrue(service.admin("/v1/admin/artifacts/space/devices").contains("insufficient-space"));
    }

    @Test
    void anInstallWhoseRecordHoldsItsManifestFinishesWithTheManifestInItsSlot() throws Exception {
        // Runtimes before this one kept the target's signed manifest in the install record; now it waits in the slot
        // (manifest.partial). An install one of them left behind must still finish.
        service.upload("inline", 1, v1);
        service.upload("inline", 2, v2);
        service.desire("inline", 1);
        Outpost d = device("officer-inline");
        d.run("model", "update", "inline").ok();
        service.desire("inline", 2);
        Outpost.Result halted = d.run(List.of("env", "OUTPOST_CRASH_AT=download:1"), "model", "update", "inline");
        assertEquals(137, halted.exit(), halted.err());
        Path pending = d.home.resolve("models/inline/b/manifest.partial");
        byte[] envelope = Files.readAllBytes(pending);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + d.home.resolve(DeviceHome.DB_FILE));
                PreparedStatement ps =
                        c.prepareStatement("update model_install set manifest = ? where artifact = 'inline'")) {
            ps.setBytes(1, envelope);
            assertEquals(1, ps.executeUpdate());
        }
        Files.delete(pending);

        String done = d.run("model", "update", "inline").ok().out();

        assertTrue(done.contains("installed inline version 2 (from version 1)"), done);
        assertActive(d, "inline", v2);
        assertArrayEquals(envelope, Files.readAllBytes(d.home.resolve("models/inline/b/manifest")));
        assertFalse(Files.exists(pending));
        assertFalse(Files.exists(d.home.resolve("models/inline/manifest.fetched")), "no fetched manifest left over");
    }

    Outpost device(String id) throws Exception {
        Outpost d = new Outpost(dir.resolve(id));
        service.initTrusting(d, id, service.url).ok();
        return d;
    }

    static void assertActive(Outpost d, String artifact, Path expected) throws IOException {
        Path live =
                d.home.resolve("models").resolve(artifact).resolve("current").resolve("model.bin");
        assertArrayEquals(Files.readAllBytes(expected), Files.readAllBytes(live), artifact + " active content");
    }

    static Set<Path> blobs(String kind) throws IOException {
        Path root = Service.artifactsDir(dir).resolve(kind);
        if (!Files.exists(root)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return new HashSet<>(s.filter(Files::isRegularFile).toList());
        }
    }
}
