package dev.outpost.sync;

import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The service on schema version 2 keeps serving version 1 devices (additive change) and refuses others. */
@QuarkusTest
@TestProfile(SchemaEvolutionIT.Version2.class)
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class SchemaEvolutionIT {
    public static class Version2 implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "outpost.schema.path", "src/test/resources/schemas/farm-schema-v2.yaml",
                    "outpost.schema.previous-paths", "../examples/farm-schema.yaml");
        }
    }

    @Test
    void aVersion1DeviceKeepsSyncingAndNeverReceivesWhatItCannotRead() throws Exception {
        Schema v2 = SchemaLoader.parse(Files.readString(Path.of("src/test/resources/schemas/farm-schema-v2.yaml")));
        WireCodec v2Codec = new WireCodec(v2, WireLimits.DEFAULT);
        TestDevice old = TestDevice.register("old", "nakuru");
        TestDevice current = TestDevice.register("new", "nakuru");
        old.pullAll();
        String farmer = UUID.randomUUID().toString();

        // A version 2 device writes an old column, a new column and a row of a new table.
        List<Change> changes = List.of(
                new Change(
                        "farmer",
                        farmer,
                        "nakuru",
                        "name",
                        new Op.Assign(new FieldValue.Text("Amina")),
                        current.clock.now()),
                new Change(
                        "farmer",
                        farmer,
                        "nakuru",
                        "gender",
                        new Op.Assign(new FieldValue.Text("f")),
                        current.clock.now()),
                new Change(
                        "visit",
                        UUID.randomUUID().toString(),
                        "nakuru",
                        "visited_on",
                        new Op.Assign(new FieldValue.Date(java.time.LocalDate.of(2026, 11, 20))),
                        current.clock.now()));
        byte[] answer = io.restassured.RestAssured.given()
                .header("Authorization", "Bearer " + current.token)
                .contentType(WireFormat.BINARY.mediaType())
                .accept(WireFormat.BINARY.mediaType())
                .body(v2Codec.encode(
                        new SyncRequest(current.id, 2, "b-" + UUID.randomUUID(), null, 0, changes), WireFormat.BINARY))
                .post("/v1/sync")
                .then()
                .statusCode(200)
                .extract()
                .asByteArray();
        assertEquals(3, v2Codec.decodeResponse(answer, WireFormat.BINARY).ack().applied());

        // The version 1 device decodes with the version 1 schema: it only gets what that schema knows.
        List<Change> received = old.pullAll();
        assertTrue(received.stream().anyMatch(c -> c.rowId().equals(farmer) && "name".equals(c.field())));
        assertTrue(
                received.stream()
                        .noneMatch(c -> "gender".equals(c.field()) || c.table().equals("visit")),
                "an old device received a column or table it does not know");

        // And it can still push; every answer says which schema is current.
        io.restassured.response.Response oldSync = old.post(
                new SyncRequest(
                        old.id,
                        1,
                        "b-" + UUID.randomUUID(),
                        null,
                        0,
                        List.of(old.assign("farmer", farmer, "nakuru", "village", new FieldValue.Text("Njoro")))),
                WireFormat.JSON);
        assertEquals(200, oldSync.statusCode(), oldSync.asString());
        assertEquals("2", oldSync.header("Outpost-Schema-Version"));

        // The device fetches the current schema: the same as the service's file, in its JSON form.
        io.restassured.response.Response schema = io.restassured.RestAssured.given()
                .header("Authorization", "Bearer " + old.token)
                .get("/v1/device/schema");
        assertEquals(200, schema.statusCode(), schema.asString());
        assertEquals("2", schema.header("Outpost-Schema-Version"));
        Schema served = SchemaLoader.parseJson(schema.asString());
        assertEquals(v2.tables(), served.tables());
        assertEquals(List.of(), served.incompatibilitiesWith(SchemaLoader.farmExample()));

        // Upgraded, it backfills from the start of the feed with a cursor of its own: only what version 1 could not
        // hold comes, small pages and all.
        List<Change> backfilled = new java.util.ArrayList<>();
        String cursor = null;
        SyncResponse page;
        do {
            byte[] bytes = io.restassured.RestAssured.given()
                    .header("Authorization", "Bearer " + old.token)
                    .contentType(WireFormat.BINARY.mediaType())
                    .accept(WireFormat.BINARY.mediaType())
                    .body(v2Codec.encode(new SyncRequest(old.id, 2, null, cursor, 1, List.of(), 1), WireFormat.BINARY))
                    .post("/v1/sync")
                    .then()
                    .statusCode(200)
                    .extract()
                    .asByteArray();
            page = v2Codec.decodeResponse(bytes, WireFormat.BINARY);
            backfilled.addAll(page.changes());
            cursor = page.cursor();
        } while (page.more());
        assertTrue(
                backfilled.stream().anyMatch(c -> c.rowId().equals(farmer) && "gender".equals(c.field())),
                "the new column's value written before the upgrade");
        assertTrue(backfilled.stream().anyMatch(c -> c.table().equals("visit")), "the new table's row written before");
        assertTrue(
                backfilled.stream().allMatch(c -> c.table().equals("visit") || "gender".equals(c.field())),
                "nothing the device already had: " + backfilled);

        // A backfill pushes nothing.
        io.restassured.RestAssured.given()
                .header("Authorization", "Bearer " + old.token)
                .contentType("application/json")
                .body("{\"format\":1,\"deviceId\":\"" + old.id + "\",\"schemaVersion\":2,\"backfillFrom\":1,"
                        + "\"batchId\":\"b\",\"changes\":[" + v2Codec.encodeChange(changes.getFirst()) + "]}")
                .post("/v1/sync")
                .then()
                .statusCode(400)
                .body("code", equalTo("malformed-payload"));
    }

    @Test
    void anUnknownVersionMustUpgradeAndKeepsItsData() {
        TestDevice future = TestDevice.register("future", "nakuru");
        future.post(new SyncRequest(future.id, 3, null, null, 0, List.of()), WireFormat.JSON)
                .then()
                .statusCode(426)
                .body("code", equalTo("upgrade-required"));
    }
}
