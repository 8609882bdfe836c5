package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.rollout.RolloutPolicy;
import dev.outpost.model.rollout.WaveHash;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * 1,000 simulated devices (in-process, over real HTTP) through a rollout whose second wave fails 20% of its health
 * checks: the rollout pauses itself before the third wave; the rollback brings every device back to its kept
 * version without a byte downloaded; the server's view of every device matches what the device reported.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class RolloutSimulationIT {
    private static final int DEVICES = 1000;
    private final HttpClient http = HttpClient.newHttpClient();
    private final Map<Long, Manifest> manifests = new HashMap<>();

    /** A device as far as a rollout can tell: an active and a kept slot, and the bytes it downloaded. */
    static final class SimDevice {
        final String id;
        final String token;
        long active = 1;
        long kept = 0;
        long bytes;

        SimDevice(String id, String token) {
            this.id = id;
            this.token = token;
        }
    }

    @Test
    void aBadSecondWavePausesTheRolloutAndTheRollbackCostsNoDownload() throws Exception {
        String scope = "sim-" + UUID.randomUUID().toString().substring(0, 8);
        String name = ArtifactIT.unique("sim");
        ArtifactIT.uploadPairDesiringFirst(name, 91, 512 << 10);
        List<SimDevice> fleet = new ArrayList<>();
        for (int i = 0; i < DEVICES; i++) {
            TestDevice d = TestDevice.register("sim", scope);
            fleet.add(new SimDevice(d.id, d.token));
        }
        // The key is fetched by a device outside the rollout's scope, so the fleet stays exactly 1,000.
        PublicKey key = ArtifactIT.signingKey(TestDevice.register("sim-key", "nakuru"));
        // Every device runs version 1 already, and said so.
        parallel(fleet, d -> report(d, name, 0, 1, 1, "installed", null, 0));

        RolloutPolicy policy = new RolloutPolicy(List.of(5.0, 30.0, 100.0), 0.9, 1, java.time.Duration.ZERO, 0.1, 10);
        long id = RolloutIT.create(name, 2, scope, policy);
        RolloutIT.act(id, "start").then().statusCode(200);

        // Rounds of check-ins: wave 1 installs, wave 2 opens, a fifth of wave 2 fails its health check and reverts.
        JsonPath status = RolloutIT.status(id);
        for (int round = 0; round < 6 && status.getString("status").equals("running"); round++) {
            parallel(
                    fleet,
                    d -> act(d, key, name, dev -> policy.waveOf(dev.id) == 1 && WaveHash.bucket(dev.id) % 5 == 0));
            status = RolloutIT.status(id);
        }
        assertEquals("paused", status.getString("status"), status.prettify());
        assertTrue(status.getString("reason").contains("emergency pause: wave 2"), status.getString("reason"));
        assertEquals(2, status.getInt("openWaves"), "the third wave never opened");
        long onV2 = fleet.stream().filter(d -> d.active == 2).count();
        assertTrue(onV2 > 0, "some devices installed version 2");
        assertTrue(
                fleet.stream().filter(d -> policy.waveOf(d.id) == 2).allMatch(d -> d.active == 1), "wave 3 untouched");

        RolloutIT.act(id, "rollback").then().statusCode(200);
        fleet.forEach(d -> d.bytes = 0);
        parallel(fleet, d -> act(d, key, name, dev -> false));
        assertTrue(fleet.stream().allMatch(d -> d.active == 1), "every device is back on version 1");
        assertEquals(0, fleet.stream().mapToLong(d -> d.bytes).sum(), "the rollback downloaded nothing");

        List<Map<String, Object>> view = given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/artifacts/" + name + "/devices")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath()
                .getList("$");
        Map<String, Integer> serverSays = new HashMap<>();
        view.forEach(m -> serverSays.put((String) m.get("deviceId"), (Integer) m.get("activeVersion")));
        for (SimDevice d : fleet) {
            assertEquals((int) d.active, serverSays.get(d.id), "the server's view of " + d.id);
        }
    }

    /** One check-in and what a device does with its assignment. */
    private void act(SimDevice d, PublicKey key, String artifact, java.util.function.Predicate<SimDevice> failsHealth)
            throws Exception {
        String json = get(d, "/v1/device/assignments");
        Assignment a = null;
        for (Object s : JsonPath.from(json).getList("assignments")) {
            Assignment parsed =
                    Assignment.decode(SignedEnvelope.decode(Base64.getDecoder().decode((String) s))
                            .verifiedPayload(Assignment.PAYLOAD_TYPE, key));
            if (parsed.artifact().equals(artifact)) {
                a = parsed;
            }
        }
        if (a == null || a.version() == d.active) {
            return;
        }
        long from = d.active;
        if (a.version() == d.kept) {
            d.kept = d.active;
            d.active = a.version();
            report(d, artifact, from, a.version(), d.active, "installed", null, 0);
            return;
        }
        long before = d.bytes;
        Manifest target = manifest(d, key, artifact, a.version());
        Set<String> have = new HashSet<>();
        manifest(d, key, artifact, d.active)
                .chunks()
                .forEach(c -> have.add(c.hash().hex()));
        for (ChunkRef c : target.chunks()) {
            if (!have.contains(c.hash().hex())) {
                d.bytes += getBytes(d, "/v1/chunks/" + c.hash().hex()).length;
            }
        }
        if (failsHealth.test(d)) {
            report(d, artifact, from, a.version(), d.active, "reverted", "health-check-failed", d.bytes - before);
        } else {
            d.kept = d.active;
            d.active = a.version();
            report(d, artifact, from, a.version(), d.active, "installed", null, d.bytes - before);
        }
    }

    private Manifest manifest(SimDevice d, PublicKey key, String artifact, long version) throws Exception {
        synchronized (manifests) {
            Manifest m = manifests.get(version);
            if (m != null) {
                return m;
            }
        }
        byte[] env = getBytes(d, "/v1/artifacts/" + artifact + "/versions/" + version + "/manifest");
        d.bytes += env.length;
        Manifest m = Manifest.decode(SignedEnvelope.decode(env).verifiedPayload(Manifest.PAYLOAD_TYPE, key));
        synchronized (manifests) {
            manifests.put(version, m);
        }
        return m;
    }

    private void report(
            SimDevice d, String artifact, long from, long to, long active, String outcome, String code, long bytes)
            throws Exception {
        String body = "{\"artifact\":\"" + artifact + "\",\"fromVersion\":" + from + ",\"toVersion\":" + to
                + ",\"activeVersion\":" + active + ",\"outcome\":\"" + outcome + "\""
                + (code == null ? "" : ",\"errorCode\":\"" + code + "\"") + ",\"bytesDownloaded\":" + bytes + "}";
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(uri("/v1/device/model-reports"))
                        .header("Authorization", "Bearer " + d.token)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(204, r.statusCode(), r.body());
    }

    private String get(SimDevice d, String path) throws Exception {
        return new String(getBytes(d, path), java.nio.charset.StandardCharsets.UTF_8);
    }

    private byte[] getBytes(SimDevice d, String path) throws Exception {
        HttpResponse<byte[]> r = http.send(
                HttpRequest.newBuilder(uri(path))
                        .header("Authorization", "Bearer " + d.token)
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode(), path);
        return r.body();
    }

    private static URI uri(String path) {
        return URI.create("http://localhost:" + RestAssured.port + path);
    }

    @FunctionalInterface
    interface DeviceWork {
        void run(SimDevice d) throws Exception;
    }

    private static void parallel(List<SimDevice> fleet, DeviceWork work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> all = new ArrayList<>();
            for (SimDevice d : fleet) {
                all.add(pool.submit(() -> {
                    work.run(d);
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
