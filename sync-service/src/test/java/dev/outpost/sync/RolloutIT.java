package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SyntheticWeights;
import dev.outpost.model.rollout.RolloutPolicy;
import dev.outpost.sync.rollout.RolloutService;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import java.security.PublicKey;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Staged rollouts over the admin API, with simulated devices checking in and reporting over HTTP. */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class RolloutIT {

    @Test
    void wavesFillByHashABadWavePausesItselfAndARollbackReturnsEveryTouchedDevice() {
        String scope = "rs-" + UUID.randomUUID().toString().substring(0, 8);
        String name = ArtifactIT.unique("rollout");
        ArtifactIT.uploadPairDesiringFirst(name, 81, 1 << 20);
        List<TestDevice> fleet = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            fleet.add(TestDevice.register("fleet", scope));
        }
        PublicKey key = ArtifactIT.signingKey(fleet.getFirst());
        RolloutPolicy policy = new RolloutPolicy(List.of(30.0, 100.0), 1.0, 1, Duration.ZERO, 0.2, 3);

        long id = create(name, 2, scope, policy);
        JsonPath draft = status(id);
        assertEquals("draft", draft.getString("status"));
        assertEquals(1, draft.getInt("previousVersion"));
        for (TestDevice d : fleet) {
            assertEquals(1, checkIn(d, key, name).version(), "a draft changes nothing");
        }

        act(id, "start")
                .then()
                .statusCode(200)
                .body("status", equalTo("running"))
                .body("openWaves", equalTo(1));
        List<TestDevice> first =
                fleet.stream().filter(d -> policy.waveOf(d.id) == 0).toList();
        List<TestDevice> second =
                fleet.stream().filter(d -> policy.waveOf(d.id) == 1).toList();
        assertTrue(!first.isEmpty() && second.size() >= 3, "waves " + first.size() + "/" + second.size());
        for (TestDevice d : fleet) {
            assertEquals(policy.waveOf(d.id) == 0 ? 2 : 1, checkIn(d, key, name).version(), d.id);
        }

        // Wave 1 installs and reports healthy: the rollout opens wave 2 by itself.
        first.forEach(d -> report(d, name, 1, 2, 2, "installed", null));
        JsonPath advanced = status(id);
        assertEquals(2, advanced.getInt("openWaves"));
        assertEquals(first.size(), advanced.getInt("waves[0].healthy"));
        for (TestDevice d : second) {
            assertEquals(2, checkIn(d, key, name).version());
        }

        // Wave 2 goes badly: the third failure report crosses 20% and the rollout pauses itself.
        for (int i = 0; i < 3; i++) {
            report(second.get(i), name, 1, 2, 1, "reverted", "health-check-failed");
        }
        JsonPath paused = status(id);
        assertEquals("paused", paused.getString("status"));
        assertTrue(paused.getString("reason").contains("emergency pause: wave 2"), paused.getString("reason"));
        assertEquals(3, paused.getInt("waves[1].failed"));

        act(id, "rollback").then().statusCode(200).body("status", equalTo("rolled-back"));
        for (TestDevice d : fleet) {
            Assignment a = checkIn(d, key, name);
            assertEquals(1, a.version(), d.id);
            assertTrue(a.rollback(), "every touched device may go back down");
        }
        act(id, "resume").then().statusCode(409).body("code", equalTo("rollout-state"));

        JsonPath trail = status(id);
        assertEquals(
                List.of("create", "start", "advance", "emergency-pause", "rollback"), trail.getList("events.action"));
        assertEquals(
                List.of("break-glass", "break-glass", "system", "system", "break-glass"),
                trail.getList("events.actor"));
    }

    @Test
    void aHealthyWaveWaitsForAnOperatorByDefaultAndOpensTheNextAfterItsSoakTimeWhenAskedTo() {
        String scope = "rs-" + UUID.randomUUID().toString().substring(0, 8);
        String name = ArtifactIT.unique("soak");
        ArtifactIT.uploadPairDesiringFirst(name, 83, 1 << 20);
        List<TestDevice> fleet = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            fleet.add(TestDevice.register("soak", scope));
        }
        RolloutPolicy manual = new RolloutPolicy(List.of(50.0, 100.0), 1.0, 1, null, 0.5, 5);
        List<TestDevice> first =
                fleet.stream().filter(d -> manual.waveOf(d.id) == 0).toList();
        assertTrue(!first.isEmpty() && first.size() < fleet.size(), "both waves have devices");

        // Off by default: a create request without autoPromoteAfter gets none, and a healthy wave waits.
        Map<String, Object> body = new LinkedHashMap<>(createBody(name, 2, scope, manual));
        body.remove("autoPromoteAfter");
        long id = ((Number) given().header("Authorization", TestDevice.ADMIN)
                        .contentType("application/json")
                        .body(body)
                        .post("/v1/admin/rollouts")
                        .then()
                        .statusCode(201)
                        .body("policy.autoPromoteAfter", nullValue())
                        .extract()
                        .path("id"))
                .longValue();
        act(id, "start").then().statusCode(200);
        first.forEach(d -> report(d, name, 1, 2, 2, "installed", null));
        JsonPath waiting = status(id);
        assertEquals(1, waiting.getInt("openWaves"));
        assertTrue(waiting.getString("reason").contains("waiting for an operator"), waiting.getString("reason"));
        act(id, "rollback").then().statusCode(200);

        // On, with a 3 s soak: healthy at once, yet the next wave opens only once the wave has been open 3 s, by the
        // service's timer (no report arrives after the healthy ones).
        long soaked = create(name, 2, scope, manual.withAutoPromoteAfter(Duration.ofSeconds(3)));
        act(soaked, "start").then().statusCode(200);
        first.forEach(d -> report(d, name, 1, 2, 2, "installed", null));
        JsonPath advanced = awaitStatus(soaked, s -> s.getInt("openWaves") == 2, Duration.ofSeconds(30));
        List<String> actions = advanced.getList("events.action");
        assertEquals(List.of("create", "start", "wave-healthy", "advance"), actions);
        assertTrue(
                advanced.getString("events[2].detail").contains("after a soak of 3s"),
                advanced.getString("events[2].detail"));
        int advance = actions.indexOf("advance");
        assertEquals("system", advanced.getString("events[" + advance + "].actor"));
        Duration waited = Duration.between(
                OffsetDateTime.parse(advanced.getString("events[" + actions.indexOf("start") + "].at")),
                OffsetDateTime.parse(advanced.getString("events[" + advance + "].at")));
        assertTrue(waited.compareTo(Duration.ofSeconds(3)) >= 0, "wave 2 opened after only " + waited);
    }

    /** Polls the rollout's status until {@code done} holds; fails after {@code within}. */
    static JsonPath awaitStatus(long id, java.util.function.Predicate<JsonPath> done, Duration within) {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            JsonPath s = status(id);
            if (done.test(s)) {
                return s;
            }
            assertTrue(System.nanoTime() < deadline, "rollout " + id + " stayed " + s.prettify());
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void oneRolloutPerArtifactAtATimeAndBadRequestsAreClear() {
        String scope = "rs-" + UUID.randomUUID().toString().substring(0, 8);
        String name = ArtifactIT.unique("single");
        ArtifactIT.upload(name, 1, SyntheticWeights.bytes(82, 1 << 20, false))
                .then()
                .statusCode(201);
        ArtifactIT.upload(name, 2, SyntheticWeights.bytes(82, 1 << 20, true))
                .then()
                .statusCode(201);
        Map<String, Object> body =
                Map.of("artifact", name, "version", 2, "previousVersion", 1, "scopes", List.of(scope));
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body(body)
                .post("/v1/admin/rollouts")
                .then()
                .statusCode(201);
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body(body)
                .post("/v1/admin/rollouts")
                .then()
                .statusCode(409)
                .body("code", equalTo("already-exists"));
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body(Map.of(
                        "artifact",
                        name,
                        "version",
                        2,
                        "previousVersion",
                        1,
                        "scopes",
                        List.of(scope),
                        "waves",
                        List.of(50, 40)))
                .post("/v1/admin/rollouts")
                .then()
                .statusCode(400)
                .body("code", equalTo("malformed-payload"));
        given().contentType("application/json")
                .body(body)
                .post("/v1/admin/rollouts")
                .then()
                .statusCode(401);
        act(999_999, "start").then().statusCode(404);
    }

    /** Creates a rollout of {@code version} over {@code scope} with {@code policy}; answers its id. */
    static long create(String artifact, long version, String scope, RolloutPolicy policy) {
        return ((Number) given().header("Authorization", TestDevice.ADMIN)
                        .contentType("application/json")
                        .body(createBody(artifact, version, scope, policy))
                        .post("/v1/admin/rollouts")
                        .then()
                        .statusCode(201)
                        .extract()
                        .path("id"))
                .longValue();
    }

    static Map<String, Object> createBody(String artifact, long version, String scope, RolloutPolicy policy) {
        Map<String, Object> body = new LinkedHashMap<>(RolloutService.policyView(policy));
        body.put("artifact", artifact);
        body.put("version", version);
        body.put("scopes", List.of(scope));
        return body;
    }

    static io.restassured.response.Response act(long id, String action) {
        return given().header("Authorization", TestDevice.ADMIN).post("/v1/admin/rollouts/" + id + "/" + action);
    }

    static JsonPath status(long id) {
        return given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/rollouts/" + id)
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
    }

    static Assignment checkIn(TestDevice d, PublicKey key, String artifact) {
        List<String> all = given().header("Authorization", "Bearer " + d.token)
                .get("/v1/device/assignments")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath()
                .getList("assignments");
        for (String a : all) {
            Assignment parsed = Assignment.decode(
                    SignedEnvelope.decode(Base64.getDecoder().decode(a)).verifiedPayload(Assignment.PAYLOAD_TYPE, key));
            if (parsed.artifact().equals(artifact)) {
                return parsed;
            }
        }
        throw new AssertionError("no assignment for " + artifact);
    }

    static void report(TestDevice d, String artifact, long from, long to, long active, String outcome, String code) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of(
                "artifact", artifact,
                "fromVersion", from,
                "toVersion", to,
                "activeVersion", active,
                "outcome", outcome,
                "bytesDownloaded", 1000));
        if (code != null) {
            body.put("errorCode", code);
        }
        given().header("Authorization", "Bearer " + d.token)
                .contentType("application/json")
                .body(body)
                .post("/v1/device/model-reports")
                .then()
                .statusCode(204);
    }
}
