package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.allOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.WireFormat;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every kind of bad input gets a clear 4xx problem answer, and the database is left exactly as it was. */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class BadInputIT {
    @Inject
    Pool pool;

    private TestDevice device;

    @BeforeEach
    void register() {
        device = TestDevice.register("officer", "nakuru");
    }

    /** A fingerprint of everything a sync could change. */
    private String databaseState() {
        return pool.query("select (select count(*) from change_feed) || '/' || (select count(*) from row_state) || '/' "
                        + "|| (select count(*) from sync_batch) || '/' || (select count(*) from conflict) || '/' "
                        + "|| coalesce((select md5(string_agg(state, ',' order by tbl, id)) from row_state), '')")
                .execute()
                .await()
                .indefinitely()
                .iterator()
                .next()
                .getString(0);
    }

    private void refusedAndUnchanged(Supplier<ValidatableResponse> call, int status, String code) {
        String before = databaseState();
        call.get()
                .statusCode(status)
                .contentType(containsString("application/problem+json"))
                .body("code", equalTo(code))
                .body("status", equalTo(status))
                .body(
                        "detail",
                        allOf(
                                not(containsString("Exception")),
                                not(containsString("dev.outpost")),
                                not(containsString("\tat "))));
        assertEquals(before, databaseState(), "a refused request changed the database");
    }

    private ValidatableResponse postRaw(String contentType, byte[] body) {
        return given().header("Authorization", "Bearer " + device.token)
                .contentType(contentType)
                .body(body)
                .post("/v1/sync")
                .then();
    }

    private String jsonRequest(String change) {
        return "{\"format\":1,\"deviceId\":\"" + device.id + "\",\"schemaVersion\":1,\"batchId\":\"b-"
                + UUID.randomUUID() + "\",\"changes\":[" + change + "]}";
    }

    private String change(String table, String field, String value) {
        return "{\"table\":\"" + table + "\",\"id\":\"" + UUID.randomUUID() + "\",\"scope\":\"nakuru\",\"field\":\""
                + field + "\",\"clock\":\"" + device.clock.now() + "\",\"op\":\"assign\",\"value\":" + value + "}";
    }

    @Test
    void malformedJsonIsRefused() {
        refusedAndUnchanged(
                () -> postRaw("application/json", "{\"format\":1,\"deviceId\":".getBytes(StandardCharsets.UTF_8)),
                400,
                "malformed-payload");
        refusedAndUnchanged(
                () -> postRaw("application/json", "[1,2,3]".getBytes(StandardCharsets.UTF_8)),
                400,
                "malformed-payload");
    }

    /** A NUL character, which PostgreSQL cannot store in text, is refused by Outpost, not by the database (a 500). */
    @Test
    void nulCharactersAreRefusedBeforeTheDatabase() {
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json",
                        jsonRequest(change("farmer", "name", "\"Wan\\u0000jiru\""))
                                .getBytes(StandardCharsets.UTF_8)),
                422,
                "type-mismatch");
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json",
                        jsonRequest(change("farmer", "name", "\"Wanjiru\""))
                                .replace("\"batchId\":\"b-", "\"batchId\":\"\\u0000b-")
                                .getBytes(StandardCharsets.UTF_8)),
                400,
                "malformed-payload");
        refusedAndUnchanged(
                () -> given().header("Authorization", TestDevice.ADMIN)
                        .urlEncodingEnabled(false)
                        .delete("/v1/admin/devices/%00")
                        .then(),
                400,
                "malformed-payload");
    }

    @Test
    void malformedBinaryIsRefused() {
        byte[] good = TestDevice.CODEC.encode(
                new SyncRequest(
                        device.id,
                        1,
                        "b-" + UUID.randomUUID(),
                        null,
                        0,
                        List.of(device.assign(
                                "farmer", UUID.randomUUID().toString(), "nakuru", "name", new FieldValue.Text("x")))),
                WireFormat.BINARY);
        refusedAndUnchanged(
                () -> postRaw(WireFormat.BINARY.mediaType(), Arrays.copyOf(good, good.length - 7)),
                400,
                "malformed-payload");
        byte[] noise = new byte[300];
        new java.util.Random(7).nextBytes(noise);
        refusedAndUnchanged(() -> postRaw(WireFormat.BINARY.mediaType(), noise), 400, "malformed-payload");
        byte[] future = good.clone();
        future[2] = 9;
        refusedAndUnchanged(() -> postRaw(WireFormat.BINARY.mediaType(), future), 422, "unsupported-format-version");
    }

    @Test
    void wrongTypesUnknownTablesAndUnknownFieldsAreRefused() {
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json",
                        jsonRequest(change("crop_record", "stage", "\"three\"")).getBytes(StandardCharsets.UTF_8)),
                422,
                "type-mismatch");
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json",
                        jsonRequest(change("crop_record", "planted_on", "\"last tuesday\""))
                                .getBytes(StandardCharsets.UTF_8)),
                422,
                "type-mismatch");
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json",
                        jsonRequest(change("cattle", "name", "\"Daisy\"")).getBytes(StandardCharsets.UTF_8)),
                422,
                "unknown-table");
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json",
                        jsonRequest(change("farmer", "shoe_size", "42")).getBytes(StandardCharsets.UTF_8)),
                422,
                "unknown-field");
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json",
                        jsonRequest(change("crop_record", "bags_harvested", "5"))
                                .getBytes(StandardCharsets.UTF_8)),
                422,
                "operation-not-allowed");
    }

    @Test
    void oversizedPayloadsAndBatchesAreRefused() {
        // The test profile caps payloads at 1 MiB and batches at 2,000 changes.
        String big = "\"" + "x".repeat(60_000) + "\"";
        StringBuilder changes = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            changes.append(i == 0 ? "" : ",").append(change("farmer", "name", big));
        }
        refusedAndUnchanged(
                () -> postRaw(
                        "application/json", jsonRequest(changes.toString()).getBytes(StandardCharsets.UTF_8)),
                413,
                "payload-too-large");
        List<Change> many = new ArrayList<>();
        for (int i = 0; i < 2_001; i++) {
            many.add(device.assign("farmer", "f" + i, "nakuru", "village", new FieldValue.Text("v")));
        }
        refusedAndUnchanged(
                () -> device.post(
                                new SyncRequest(device.id, 1, "b-" + UUID.randomUUID(), null, 0, many),
                                WireFormat.BINARY)
                        .then(),
                413,
                "batch-too-large");
    }

    @Test
    void compressedPayloadsAreMeasuredInflatedAndCorruptOnesRefused() throws Exception {
        // 1.2 MB of JSON gzips to a few KB: the limit (1 MiB in tests) counts what it inflates to.
        String big = "\"" + "x".repeat(60_000) + "\"";
        StringBuilder changes = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            changes.append(i == 0 ? "" : ",").append(change("farmer", "name", big));
        }
        var gzipped = new java.io.ByteArrayOutputStream();
        try (var z = new java.util.zip.GZIPOutputStream(gzipped)) {
            z.write(jsonRequest(changes.toString()).getBytes(StandardCharsets.UTF_8));
        }
        refusedAndUnchanged(() -> postEncoded("gzip", gzipped.toByteArray()), 413, "payload-too-large");
        refusedAndUnchanged(
                () -> postEncoded("gzip", "not gzip at all".getBytes(StandardCharsets.UTF_8)),
                400,
                "malformed-payload");
        refusedAndUnchanged(
                () -> postEncoded(
                        "br", jsonRequest(change("farmer", "name", "\"x\"")).getBytes(StandardCharsets.UTF_8)),
                415,
                "unsupported-media-type");
    }

    private ValidatableResponse postEncoded(String contentEncoding, byte[] body) {
        return given().header("Authorization", "Bearer " + device.token)
                .header("Content-Encoding", contentEncoding)
                .contentType("application/json")
                .body(body)
                .post("/v1/sync")
                .then();
    }

    @Test
    void missingForgedAndRevokedCredentialsAreRefused() {
        byte[] body = jsonRequest(change("farmer", "name", "\"x\"")).getBytes(StandardCharsets.UTF_8);
        refusedAndUnchanged(
                () -> given().contentType("application/json")
                        .body(body)
                        .post("/v1/sync")
                        .then(),
                401,
                "unauthenticated");
        refusedAndUnchanged(
                () -> given().header("Authorization", "Bearer opd_forged")
                        .contentType("application/json")
                        .body(body)
                        .post("/v1/sync")
                        .then(),
                401,
                "unauthenticated");
        refusedAndUnchanged(
                () -> given().header("Authorization", "Bearer " + device.token)
                        .contentType("application/json")
                        .body(body)
                        .post("/v1/admin/devices")
                        .then(),
                403,
                "admin-only");

        // Its credential was just used (and is remembered by the service): a revocation still takes effect at once.
        given().header("Authorization", "Bearer " + device.token)
                .get("/v1/device/assignments")
                .then()
                .statusCode(200);
        given().header("Authorization", TestDevice.ADMIN)
                .delete("/v1/admin/devices/" + device.id)
                .then()
                .statusCode(200);
        refusedAndUnchanged(() -> postRaw("application/json", body), 401, "credential-revoked");
    }

    @Test
    void anotherDevicesIdOrClockIsRefused() {
        TestDevice other = TestDevice.register("other", "nakuru");
        refusedAndUnchanged(
                () -> device.post(new SyncRequest(other.id, 1, null, null, 0, List.of()), WireFormat.JSON)
                        .then(),
                403,
                "device-mismatch");
        Change forged =
                other.assign("farmer", UUID.randomUUID().toString(), "nakuru", "name", new FieldValue.Text("x"));
        refusedAndUnchanged(
                () -> device.post(
                                new SyncRequest(device.id, 1, "b-" + UUID.randomUUID(), null, 0, List.of(forged)),
                                WireFormat.JSON)
                        .then(),
                403,
                "device-mismatch");
    }

    @Test
    void aRowCannotBeMovedToAnotherScope() {
        TestDevice both = TestDevice.register("both", "nakuru", "kericho");
        String id = UUID.randomUUID().toString();
        both.push(List.of(both.assign("farmer", id, "nakuru", "name", new FieldValue.Text("x"))));
        refusedAndUnchanged(
                () -> both.post(
                                new SyncRequest(
                                        both.id,
                                        1,
                                        "b-" + UUID.randomUUID(),
                                        null,
                                        0,
                                        List.of(both.assign(
                                                "farmer", id, "kericho", "name", new FieldValue.Text("y")))),
                                WireFormat.JSON)
                        .then(),
                422,
                "scope-change");
    }

    @Test
    void badCursorsAndMediaTypesAreRefused() {
        refusedAndUnchanged(
                () -> device.post(new SyncRequest(device.id, 1, null, "yesterday", 0, List.of()), WireFormat.JSON)
                        .then(),
                400,
                "invalid-cursor");
        refusedAndUnchanged(
                () -> postRaw("text/plain", "hello".getBytes(StandardCharsets.UTF_8)), 415, "unsupported-media-type");
    }

    @Test
    void adminInputIsChecked() {
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("{\"deviceId\": \"has space\", \"scopes\": [\"n\"]}")
                .post("/v1/admin/devices")
                .then()
                .statusCode(422)
                .body("code", equalTo("invalid-id"));
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("{\"deviceId\": \"" + device.id + "\", \"scopes\": [\"n\"]}")
                .post("/v1/admin/devices")
                .then()
                .statusCode(409)
                .body("code", equalTo("already-exists"));
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("not json")
                .post("/v1/admin/devices")
                .then()
                .statusCode(400)
                .body("code", equalTo("malformed-payload"));
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/conflicts/999999999")
                .then()
                .statusCode(404)
                .body("code", equalTo("not-found"));
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/no/such/path")
                .then()
                .statusCode(404)
                .body("code", equalTo("not-found"));
    }
}
