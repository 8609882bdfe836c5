package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.model.HealthCheck;
import dev.outpost.device.model.ModelUpdater;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What a device refuses to trust (a replayed older assignment, an expired one, an old manifest served for a newer
 * assignment) and what it survives (a link that keeps dropping mid-download), against the real service.
 */
class ModelTrustIT extends WithService {
    private static final ModelUpdater.Progress QUIET = (phase, done, steps, bytes, planned) -> {};

    @Test
    void aReplayedOlderAssignmentAndAnExpiredOneAreRefusedAndNothingChanges() throws Exception {
        Path v1 = ModelUpdateIT.weights(dir, "r1.bin", 31, 2 << 20, false);
        Path v2 = ModelUpdateIT.weights(dir, "r2.bin", 31, 2 << 20, true);
        Path v3 = ModelUpdateIT.weights(dir, "r3.bin", 32, 2 << 20, false);
        service.upload("replay", 1, v1);
        service.upload("replay", 2, v2);
        service.upload("replay", 3, v3);
        Path home = init("officer-replay");
        try (OutpostDevice device = OutpostDevice.open(home)) {
            ModelUpdater models = device.models();
            service.desire("replay", 1);
            List<String> old = models.checkIn();
            assertEquals(
                    "installed",
                    models.update("replay", HealthCheck.builtIn(), QUIET).result());
            service.desire("replay", 2);
            models.checkIn();
            assertEquals(
                    "installed",
                    models.update("replay", HealthCheck.builtIn(), QUIET).result());

            // Someone on the link hands back the old signed assignment for version 1: it is older than the one kept,
            // so it is not kept (and were it used, AssignmentTrust refuses an assignment issued before the last
            // install's: AssignmentTrustTest).
            models.rememberAssignments(old);
            assertEquals(
                    "up-to-date",
                    models.update("replay", HealthCheck.builtIn(), QUIET).result());
            ModelUpdateIT.assertActive(new Outpost(home), "replay", v2);

            // An assignment used after its expiry (the device was offline for weeks) is refused too.
            service.desire("replay", 3);
            models.checkIn();
            long inAMonth = System.currentTimeMillis() + 30L * 24 * 3600 * 1000;
            DeviceException expired = assertThrows(
                    DeviceException.class,
                    () -> device.models(() -> inAMonth).update("replay", HealthCheck.builtIn(), QUIET));
            assertTrue(expired.getMessage().contains("assignment-expired"), expired.getMessage());
            ModelUpdateIT.assertActive(new Outpost(home), "replay", v2);

            // A rollback the service signs after the install is accepted, and costs nothing: version 1 is kept.
            service.desire("replay", 1);
            models.checkIn();
            assertEquals(
                    "switched",
                    models.update("replay", HealthCheck.builtIn(), QUIET).result());
            ModelUpdateIT.assertActive(new Outpost(home), "replay", v1);
        }
    }

    @Test
    void aLinkThatDropsMidBodyIsResumedWithRangeRequestsAndTheResultVerifies() throws Exception {
        Path v1 = ModelUpdateIT.weights(dir, "f1.bin", 41, 6 << 20, false);
        service.upload("flaky", 1, v1);
        service.desire("flaky", 1);
        int port = Integer.parseInt(service.url.substring(service.url.lastIndexOf(':') + 1));
        try (FaultyProxy proxy = new FaultyProxy(port, 700_000)) {
            String id = "officer-flaky";
            Outpost d = new Outpost(dir.resolve(id));
            service.initTrusting(d, id, proxy.url()).ok();
            String out = d.run("model", "update", "flaky").ok().out();
            assertTrue(out.contains("installed flaky version 1"), out);
            assertTrue(proxy.cuts.get() >= 5, "the link was cut " + proxy.cuts.get() + " times");
            assertTrue(proxy.rangeRequests.get() >= 1, "cut bodies are resumed with Range");
            assertArrayEquals(
                    Files.readAllBytes(v1), Files.readAllBytes(d.home.resolve("models/flaky/current/model.bin")));
            Matcher m = Pattern.compile("downloaded ([0-9.]+) MB \\((\\d+) bytes\\) of ([0-9.]+) MB")
                    .matcher(out);
            assertTrue(m.find(), out);
            // Resumed, not restarted: what crossed the link is the file plus the halves of cut bodies at most.
            assertTrue(Double.parseDouble(m.group(1)) < Double.parseDouble(m.group(3)) * 1.25, out);
        }
    }

    @Test
    void anOldManifestServedForANewerAssignmentIsRefused() throws Exception {
        service.upload("swap", 1, ModelUpdateIT.weights(dir, "w1.bin", 71, 1 << 20, false));
        service.upload("swap", 2, ModelUpdateIT.weights(dir, "w2.bin", 71, 1 << 20, true));
        service.desire("swap", 2);
        int port = Integer.parseInt(service.url.substring(service.url.lastIndexOf(':') + 1));
        // The link answers every request for version 2's manifest with version 1's: validly signed, but replayed.
        try (FaultyProxy proxy = new FaultyProxy(port, Long.MAX_VALUE)
                .rewrite("/swap/versions/2/manifest", "/swap/versions/1/manifest")) {
            String id = "officer-swap";
            Outpost d = new Outpost(dir.resolve(id));
            service.initTrusting(d, id, proxy.url()).ok();
            Outpost.Result r = d.run("model", "update", "swap");
            assertEquals(4, r.exit(), r.err());
            assertTrue(
                    r.err().contains("artifact-invalid") && r.err().contains("not the one the assignment names"),
                    r.err());
            assertTrue(!Files.exists(d.home.resolve("models/swap/current")), "nothing may be activated");
        }
    }

    Path init(String id) throws Exception {
        Outpost d = new Outpost(dir.resolve(id));
        service.initTrusting(d, id, service.url).ok();
        return d.home;
    }
}
