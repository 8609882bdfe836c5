package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.sync.sync.SyncService;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class SyncIT {
    @Inject
    Pool pool;

    private static String row() {
        return UUID.randomUUID().toString();
    }

    private long count(String sql) {
        return Sql.count(pool, sql);
    }

    @Test
    void aPushedChangeReachesAnotherDeviceButIsNotEchoedBack() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        TestDevice b = TestDevice.register("officer-b", "nakuru");
        b.pullAll();
        a.pullAll();
        String farmer = row();
        SyncResponse pushed =
                a.push(List.of(a.assign("farmer", farmer, "nakuru", "name", new FieldValue.Text("Wanjiru"))));
        assertEquals(1, pushed.ack().applied());
        assertFalse(pushed.ack().duplicate());
        assertTrue(pushed.changes().stream().noneMatch(c -> c.deviceId().equals(a.id)), "own change echoed");

        List<Change> seen = b.pullAll();
        assertTrue(seen.stream()
                .anyMatch(c -> c.rowId().equals(farmer) && c.deviceId().equals(a.id)));
        assertTrue(b.pullAll().stream().noneMatch(c -> c.rowId().equals(farmer)), "the cursor did not move past it");
    }

    @Test
    void jsonAndBinaryAreNegotiated() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        String farmer = row();
        var request = new SyncRequest(
                a.id,
                1,
                "b-" + UUID.randomUUID(),
                null,
                0,
                List.of(a.assign("farmer", farmer, "nakuru", "village", new FieldValue.Text("Njoro"))));
        given().header("Authorization", "Bearer " + a.token)
                .contentType("application/json")
                .accept("application/json")
                .body(TestDevice.CODEC.encode(request, WireFormat.JSON))
                .post("/v1/sync")
                .then()
                .statusCode(200)
                .contentType(containsString("application/json"))
                .body("ack.applied", equalTo(1));
        var again = new SyncRequest(
                a.id,
                1,
                "b-" + UUID.randomUUID(),
                null,
                0,
                List.of(a.assign("farmer", farmer, "nakuru", "village", new FieldValue.Text("Molo"))));
        byte[] binary = given().header("Authorization", "Bearer " + a.token)
                .contentType(WireFormat.BINARY.mediaType())
                .accept(WireFormat.BINARY.mediaType())
                .body(TestDevice.CODEC.encode(again, WireFormat.BINARY))
                .post("/v1/sync")
                .then()
                .statusCode(200)
                .contentType(containsString("cbor"))
                .extract()
                .asByteArray();
        assertEquals(
                1,
                TestDevice.CODEC.decodeResponse(binary, WireFormat.BINARY).ack().applied());
    }

    @Test
    void requestsAndAnswersTravelGzipCompressed() throws Exception {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        List<Change> changes = new java.util.ArrayList<>();
        for (int i = 0; i < 200; i++) {
            changes.add(a.assign("farmer", row(), "nakuru", "village", new FieldValue.Text("Njoro")));
        }
        byte[] plain = TestDevice.CODEC.encode(
                new SyncRequest(a.id, 1, "b-" + UUID.randomUUID(), null, 0, changes), WireFormat.BINARY);
        var gzipped = new java.io.ByteArrayOutputStream();
        try (var z = new java.util.zip.GZIPOutputStream(gzipped)) {
            z.write(plain);
        }
        var http = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1)
                .build();
        var answer = http.send(
                java.net.http.HttpRequest.newBuilder(
                                java.net.URI.create("http://localhost:" + io.restassured.RestAssured.port + "/v1/sync"))
                        .header("Authorization", "Bearer " + a.token)
                        .header("Content-Type", WireFormat.BINARY.mediaType())
                        .header("Content-Encoding", "gzip")
                        .header("Accept", WireFormat.BINARY.mediaType())
                        .header("Accept-Encoding", "gzip")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(gzipped.toByteArray()))
                        .build(),
                java.net.http.HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, answer.statusCode(), new String(answer.body()));
        assertEquals("gzip", answer.headers().firstValue("Content-Encoding").orElse(""));
        byte[] inflated;
        try (var in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(answer.body()))) {
            inflated = in.readAllBytes();
        }
        SyncResponse response = TestDevice.CODEC.decodeResponse(inflated, WireFormat.BINARY);
        assertEquals(200, response.ack().applied());
    }

    @Test
    void aRetriedBatchGetsTheSameAnswerAndChangesNothing() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        String batch = "b-" + UUID.randomUUID();
        List<Change> changes = List.of(
                a.assign("farmer", row(), "nakuru", "name", new FieldValue.Text("Otieno")),
                a.assign("farmer", row(), "nakuru", "name", new FieldValue.Text("Achieng")));
        SyncResponse first = a.sync(batch, changes, WireFormat.BINARY);
        long feed = count("select count(*) from change_feed");
        long rows = count("select count(*) from row_state");
        SyncResponse retry = a.sync(batch, changes, WireFormat.JSON);
        assertEquals(first.ack().applied(), retry.ack().applied());
        assertTrue(retry.ack().duplicate());
        assertEquals(feed, count("select count(*) from change_feed"));
        assertEquals(rows, count("select count(*) from row_state"));
    }

    @Test
    void aRetriedBatchGetsTheConflictsItsFirstAnswerCarried() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        TestDevice b = TestDevice.register("officer-b", "nakuru");
        String crop = row();
        a.push(List.of(
                a.assign("crop_record", crop, "nakuru", "yield_kg", new FieldValue.Decimal(new BigDecimal("1200")))));
        String batch = "b-" + UUID.randomUUID();
        List<Change> changes = List.of(
                b.assign("crop_record", crop, "nakuru", "yield_kg", new FieldValue.Decimal(new BigDecimal("1350"))));
        SyncResponse first = b.sync(batch, changes, WireFormat.BINARY);
        assertEquals(1, first.conflicts().size());
        SyncResponse retry = b.sync(batch, changes, WireFormat.BINARY); // as after a lost first answer
        assertTrue(retry.ack().duplicate());
        assertEquals(first.conflicts(), retry.conflicts(), "the retry is told about the conflict too");
    }

    @Test
    void aRetryIsAnsweredAsADuplicateEvenAfterItsScopeWasRevoked() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        String batch = "b-" + UUID.randomUUID();
        List<Change> changes = List.of(a.assign("farmer", row(), "nakuru", "name", new FieldValue.Text("Kip")));
        SyncResponse first = a.sync(batch, changes, WireFormat.JSON);
        assertEquals(1, Sql.execute(pool, "update device set scopes = '{molo}' where id = $1", a.id));
        // Checked again, the batch would be refused as out of scope and the device would set aside changes the
        // server holds; it is answered from what it did.
        SyncResponse retry = a.sync(batch, changes, WireFormat.JSON);
        assertTrue(retry.ack().duplicate());
        assertEquals(first.ack().applied(), retry.ack().applied());
    }

    @Test
    void anotherDevicesBatchIdIsRefused() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        TestDevice b = TestDevice.register("officer-b", "nakuru");
        String batch = "b-" + UUID.randomUUID();
        a.sync(batch, List.of(a.assign("farmer", row(), "nakuru", "name", new FieldValue.Text("x"))), WireFormat.JSON);
        long feed = count("select count(*) from change_feed");
        b.post(
                        new SyncRequest(
                                b.id,
                                1,
                                batch,
                                null,
                                0,
                                List.of(b.assign("farmer", row(), "nakuru", "name", new FieldValue.Text("y")))),
                        WireFormat.JSON)
                .then()
                .statusCode(409)
                .contentType(containsString("application/problem+json"))
                .body("code", equalTo("batch-id-taken"));
        assertEquals(feed, count("select count(*) from change_feed"));
    }

    @Test
    void aBatchTouchingAnotherScopeIsRefusedWholeAndNothingIsApplied() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        String ok = row(), foreign = row();
        long feed = count("select count(*) from change_feed");
        a.post(
                        new SyncRequest(
                                a.id,
                                1,
                                "b-" + UUID.randomUUID(),
                                null,
                                0,
                                List.of(
                                        a.assign("farmer", ok, "nakuru", "name", new FieldValue.Text("mine")),
                                        a.assign(
                                                "farmer",
                                                foreign,
                                                "kericho",
                                                "name",
                                                new FieldValue.Text("not mine")))),
                        WireFormat.JSON)
                .then()
                .statusCode(403)
                .body("code", equalTo("out-of-scope"))
                .body("refused", hasSize(1))
                .body("refused[0].index", equalTo(1))
                .body("detail", not(containsString("Exception")));
        assertEquals(feed, count("select count(*) from change_feed"));
        assertEquals(0, count("select count(*) from row_state where id in ('" + ok + "', '" + foreign + "')"));
    }

    @Test
    void aClockFarAheadIsRefusedWithTheServerTime() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        var future = new dev.outpost.model.clock.Hlc(System.currentTimeMillis() + 3_600_000, 0, a.id);
        var change = new Change(
                "farmer",
                row(),
                "nakuru",
                "name",
                new dev.outpost.model.change.Op.Assign(new FieldValue.Text("x")),
                future);
        a.post(new SyncRequest(a.id, 1, "b-" + UUID.randomUUID(), null, 0, List.of(change)), WireFormat.JSON)
                .then()
                .statusCode(422)
                .body("code", equalTo("clock-skew"))
                .body("serverTimeMs", org.hamcrest.Matchers.greaterThan(0L))
                .body("clockAheadMs", org.hamcrest.Matchers.greaterThan(3_000_000));
    }

    @Test
    void anUnservedSchemaVersionGetsUpgradeRequired() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        a.post(new SyncRequest(a.id, 7, null, null, 0, List.of()), WireFormat.JSON)
                .then()
                .statusCode(426)
                .body("code", equalTo("upgrade-required"));
    }

    @Test
    void concurrentReviewWritesOpenAConflictThatAnAdminResolvesForEveryone() {
        TestDevice a = TestDevice.register("officer-a", "nakuru");
        TestDevice b = TestDevice.register("officer-b", "nakuru");
        String crop = row();
        a.push(List.of(
                a.assign("crop_record", crop, "nakuru", "yield_kg", new FieldValue.Decimal(new BigDecimal("1200")))));
        SyncResponse second = b.push(List.of(
                b.assign("crop_record", crop, "nakuru", "yield_kg", new FieldValue.Decimal(new BigDecimal("1350")))));
        assertEquals(1, second.conflicts().size(), "the push that collided is told about the conflict");

        Number id = given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/conflicts?status=open&limit=1000")
                .then()
                .statusCode(200)
                .extract()
                .path("find { it.rowId == '" + crop + "' }.id");
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/conflicts/" + id)
                .then()
                .statusCode(200)
                .body("kind", equalTo("concurrent-writes"))
                .body("candidates", hasSize(2))
                .body(
                        "candidates.value.collect { it.toString() }",
                        org.hamcrest.Matchers.containsInAnyOrder("1200", "1350"));

        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("{\"value\": 1300}")
                .post("/v1/admin/conflicts/" + id + "/resolve")
                .then()
                .statusCode(200)
                .body("status", equalTo("resolved"))
                .body("resolvedBy", equalTo("break-glass"));

        List<Change> atA = a.pullAll();
        Change resolution = atA.stream()
                .filter(c -> c.rowId().equals(crop) && SyncService.isServerNode(c.deviceId()))
                .findFirst()
                .orElseThrow();
        var assign = (dev.outpost.model.change.Op.Assign) resolution.op();
        assertEquals(new FieldValue.Decimal(new BigDecimal("1300")), assign.value());
        assertEquals(2, assign.replaces().size(), "the resolution replaces both competing values");
    }
}
