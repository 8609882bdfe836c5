package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.rollout.RolloutPolicy;
import dev.outpost.sync.sync.SyncService;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The admin console end to end in real headless Chromium: this test seeds a fleet, a review conflict and a rollout
 * through the real API, then runs {@code src/test/browser/console.mjs} (playwright-core driving Debian's {@code
 * chromium}) which signs in, reads the fleet, resolves the conflict, creates and starts a rollout, watches its first
 * wave fill as a device reports, promotes it and rolls it back after a confirmation; then it
 * checks through the API that the clicks did what the page said. Screenshots land in {@code
 * target/console-screenshots} (the README's picture is one of them).
 *
 * <p>Needs {@code /usr/bin/chromium} and {@code npm ci} in {@code src/test/browser}; {@code .ci/run} installs both and
 * sets {@code OUTPOST_BROWSER_TESTS=required}, under which their absence fails the test instead of skipping it.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class ConsoleIT {
    private static final Path BROWSER = Path.of("src/test/browser");
    private static final Path CHROMIUM = Path.of(System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium"));

    @Test
    void anOperatorSignsInReadsTheFleetResolvesAConflictAndRunsARolloutToItsRollback() throws Exception {
        requireBrowser();
        String run = UUID.randomUUID().toString().substring(0, 6);
        String scope = "ward-" + run;
        String prefix = "console-" + run;
        String artifact = ArtifactIT.unique("crop-model");
        // The waves the operator will type into the console's rollout form (the rest of the policy is the default).
        RolloutPolicy policy = RolloutPolicy.standard().withWaves(List.of(50.0, 100.0));

        // Three devices: A in wave 1; B and C in wave 2. A and B sync and collide on a review field; C never syncs.
        List<String> ids = idsByWave(prefix, policy, List.of(0, 1, 1));
        TestDevice a = TestDevice.registerAs(ids.get(0), scope);
        TestDevice b = TestDevice.registerAs(ids.get(1), scope);
        TestDevice c = TestDevice.registerAs(ids.get(2), scope);
        String crop = "crop-" + run;
        a.push(List.of(
                a.assign("crop_record", crop, scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("1200")))));
        b.push(List.of(
                b.assign("crop_record", crop, scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("1350")))));
        long conflict = ((Number) given().header("Authorization", TestDevice.ADMIN)
                        .get("/v1/admin/conflicts?status=open&scope=" + scope)
                        .then()
                        .statusCode(200)
                        .extract()
                        .path("[0].id"))
                .longValue();

        ArtifactIT.uploadPairDesiringFirst(artifact, 91, 1 << 20);
        for (TestDevice d : List.of(a, b, c)) {
            RolloutIT.report(d, artifact, 0, 1, 1, "installed", null);
        }

        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("actor", "amina");
        expected.put("scope", scope);
        expected.put("devicePrefix", prefix);
        expected.put("artifact", artifact);
        expected.put(
                "devices",
                List.of(
                        device(a.id, true, "1 change", 1, artifact + " v1 healthy"),
                        device(b.id, true, "1 change", 1, artifact + " v1 healthy"),
                        device(c.id, false, "—", 1, artifact + " v1 healthy")));
        expected.put("conflict", Map.of("id", conflict, "values", List.of("1200", "1350"), "keep", "1350"));
        // The browser creates the rollout (waves 50/100 as in the policy above); A, the one wave-1 device, reports.
        expected.put("rollout", Map.of("reports", List.of(Map.of("token", a.token)), "previousVersion", 1));
        expected.put("data", Map.of("id", crop, "yield", "1350", "note", "checked at the office " + run));

        runBrowser(expected);

        // What the clicks did, as the API sees it.
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/conflicts/" + conflict)
                .then()
                .statusCode(200)
                .body("status", equalTo("resolved"))
                .body("resolvedBy", equalTo("amina"));
        Change resolution = a.pullAll().stream()
                .filter(ch -> ch.rowId().equals(crop) && SyncService.isServerNode(ch.deviceId()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("the resolution reaches the devices as a change"));
        assertEquals(new FieldValue.Decimal(new BigDecimal("1350")), ((Op.Assign) resolution.op()).value());
        long rollout = ((Number) given().header("Authorization", TestDevice.ADMIN)
                        .get("/v1/admin/rollouts")
                        .then()
                        .statusCode(200)
                        .extract()
                        .path("find { it.artifact == '" + artifact + "' }.id"))
                .longValue();
        JsonPath status = RolloutIT.status(rollout);
        assertEquals("rolled-back", status.getString("status"));
        assertEquals(2, status.getInt("openWaves"));
        assertEquals(
                List.of("create", "start", "wave-healthy", "promote", "rollback"), status.getList("events.action"));
        assertEquals(List.of("amina", "amina", "system", "amina", "amina"), status.getList("events.actor"));
        assertEquals(50.0, status.getDouble("waves[0].percent"), "the waves typed into the form");
        assertEquals(100.0, status.getDouble("waves[1].percent"));
        PublicKey key = ArtifactIT.signingKey(a);
        for (TestDevice d : List.of(a, b, c)) {
            Assignment back = RolloutIT.checkIn(d, key, artifact);
            assertEquals(1, back.version(), d.id + " is sent back to version 1");
            assertTrue(back.rollback(), d.id + " may go down");
        }
        assertTrue(Files.size(Path.of("target/console-screenshots/rollout.png")) > 10_000, "a real screenshot");
        // The note typed into the Data page reached the devices as a server change.
        assertTrue(
                b.pullAll().stream()
                        .anyMatch(ch -> ch.rowId().equals(crop)
                                && "notes".equals(ch.field())
                                && SyncService.isServerNode(ch.deviceId())
                                && ((Op.Assign) ch.op())
                                        .value()
                                        .equals(new FieldValue.Text("checked at the office " + run))),
                "the Data page's edit reaches the devices");
    }

    private static Map<String, Object> device(String id, boolean synced, String lag, int conflicts, String model) {
        return Map.of("id", id, "synced", synced, "lag", lag, "openConflicts", conflicts, "model", model);
    }

    /** Device ids {@code prefix-N} whose waves under {@code policy} are {@code waves}, in that order. */
    private static List<String> idsByWave(String prefix, RolloutPolicy policy, List<Integer> waves) {
        List<String> out = new ArrayList<>();
        for (int n = 1; out.size() < waves.size(); n++) {
            String id = prefix + "-" + n;
            if (policy.waveOf(id) == waves.get(out.size())) {
                out.add(id);
            }
        }
        return out;
    }

    private static void requireBrowser() {
        boolean required = "required".equals(System.getenv("OUTPOST_BROWSER_TESTS"));
        String missing = !Files.isExecutable(CHROMIUM)
                ? CHROMIUM + " (apt-get install chromium)"
                : !Files.isDirectory(BROWSER.resolve("node_modules/playwright-core"))
                        ? "playwright-core (npm ci in " + BROWSER + ")"
                        : null;
        if (missing != null) {
            String why = "the console browser test needs " + missing;
            if (required) {
                throw new AssertionError(why);
            }
            Assumptions.abort(why + "; skipped (OUTPOST_BROWSER_TESTS=required makes this a failure)");
        }
    }

    /** An admin operator made with the break-glass token, and an API token of theirs: what the console signs in with. */
    private static String operatorToken(String name) {
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("{\"name\": \"" + name + "\", \"role\": \"admin\"}")
                .post("/v1/admin/operators")
                .then()
                .statusCode(201);
        return given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("{}")
                .post("/v1/admin/operators/" + name + "/tokens")
                .then()
                .statusCode(201)
                .extract()
                .path("token");
    }

    private static void runBrowser(Map<String, Object> expected) throws IOException, InterruptedException {
        Path log = Files.createTempFile("console-test", ".log");
        ProcessBuilder pb = new ProcessBuilder("node", "console.mjs")
                .directory(BROWSER.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("OUTPOST_URL", "http://localhost:" + RestAssured.port);
        pb.environment().put("OUTPOST_OPERATOR_TOKEN", operatorToken("amina"));
        pb.environment().put("CONSOLE_CASE", new ObjectMapper().writeValueAsString(expected));
        pb.environment()
                .put(
                        "SCREENSHOT_DIR",
                        Path.of("target/console-screenshots").toAbsolutePath().toString());
        pb.environment().put("CHROMIUM", CHROMIUM.toString());
        Process p = pb.start();
        boolean done = p.waitFor(3, TimeUnit.MINUTES);
        if (!done) {
            p.destroyForcibly();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println(out);
        assertTrue(done, "the browser test hung:\n" + out);
        assertEquals(0, p.exitValue(), "the browser test failed:\n" + out);
    }
}
