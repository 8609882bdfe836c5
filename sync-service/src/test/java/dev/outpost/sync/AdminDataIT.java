package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.sync.sync.SyncService;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.math.BigDecimal;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The admin data API on real PostgreSQL: lists with filters, paging and CSV; one row with each field's clock and
 * device; office writes that are server changes reaching devices and merging like theirs (a review field opens a
 * conflict against a device's concurrent edit); bad input answered with a problem and nothing changed.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class AdminDataIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static io.restassured.specification.RequestSpecification as() {
        return given().header("Authorization", TestDevice.ADMIN).contentType("application/json");
    }

    private static JsonNode json(Response r, int status) throws Exception {
        assertEquals(status, r.statusCode(), r.asString());
        return JSON.readTree(r.asString());
    }

    @Test
    void concurrentOfficeIncrementsOfOneCounterAreAllCounted() throws Exception {
        String scope = "office-" + UUID.randomUUID().toString().substring(0, 8);
        String crop = scope + "-c";
        json(
                as().body("{\"district\": \"" + scope + "\", \"crop\": \"maize\"}")
                        .put("/v1/admin/data/crop_record/" + crop),
                200);
        int increments = 24;
        var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        List<java.util.concurrent.Future<Integer>> sent = new java.util.ArrayList<>();
        for (int i = 0; i < increments; i++) {
            int n = 1 + i % 3;
            sent.add(pool.submit(() -> as().body("{\"field\": \"bags_harvested\", \"n\": " + n + "}")
                    .post("/v1/admin/data/crop_record/" + crop + "/add")
                    .statusCode()));
        }
        int expected = 0;
        for (int i = 0; i < increments; i++) {
            assertEquals(200, sent.get(i).get());
            expected += 1 + i % 3;
        }
        pool.shutdown();
        JsonNode row = json(as().get("/v1/admin/data/crop_record/" + crop), 200);
        assertEquals(
                expected, row.get("fields").get("bags_harvested").get("value").asInt(), row.toString());
    }

    @Test
    void theOfficeReadsListsAndWritesChangesThatReachDevices() throws Exception {
        String scope = "office-" + UUID.randomUUID().toString().substring(0, 8);
        String f1 = scope + "-f1", f2 = scope + "-f2", c1 = scope + "-c1";
        TestDevice tablet = TestDevice.register("office-tablet", scope);
        TestDevice other = TestDevice.register("office-other", scope);
        tablet.pullAll();
        tablet.push(List.of(
                tablet.assign("farmer", f1, scope, "name", new FieldValue.Text("Achieng, \"Mama\" Otieno")),
                tablet.assign("farmer", f1, scope, "village", new FieldValue.Text("Njoro")),
                tablet.assign("farmer", f2, scope, "name", new FieldValue.Text("Kiprono")),
                tablet.assign("farmer", f2, scope, "village", new FieldValue.Text("Molo")),
                tablet.assign("crop_record", c1, scope, "stage", new FieldValue.Int(2)),
                tablet.assign("crop_record", c1, scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("900")))));

        // Lists: a filter, the scope, paging after an id, CSV.
        JsonNode njoro = json(as().get("/v1/admin/data/farmer?village=Njoro&district=" + scope), 200);
        assertEquals(1, njoro.size());
        assertEquals(f1, njoro.get(0).get("id").asText());
        JsonNode page1 = json(as().get("/v1/admin/data/farmer?district=" + scope + "&limit=1"), 200);
        JsonNode page2 = json(
                as().get("/v1/admin/data/farmer?district=" + scope + "&limit=1&after="
                        + page1.get(0).get("id").asText()),
                200);
        assertEquals(
                List.of(f1, f2),
                List.of(page1.get(0).get("id").asText(), page2.get(0).get("id").asText()));
        String csv = given().header("Authorization", TestDevice.ADMIN)
                .accept("text/csv")
                .get("/v1/admin/data/farmer?district=" + scope)
                .then()
                .statusCode(200)
                .extract()
                .asString();
        List<String> lines = csv.lines().toList();
        assertEquals("id,district,name,phone,village,_changed_at,_conflicts", lines.get(0));
        assertTrue(lines.get(1).startsWith(f1 + "," + scope + ",\"Achieng, \"\"Mama\"\" Otieno\",,Njoro,"), csv);

        // One row: each field with its clock and the device that wrote it.
        JsonNode row = json(as().get("/v1/admin/data/farmer/" + f1), 200);
        assertEquals("Njoro", row.get("fields").get("village").get("value").asText());
        assertEquals(tablet.id, row.get("fields").get("village").get("device").asText());
        assertTrue(row.get("fields").get("phone").get("value").isNull());

        // The office corrects a phone number: a server change the tablet pulls.
        JsonNode patched = json(as().body("{\"phone\": \"+254700000042\"}").patch("/v1/admin/data/farmer/" + f1), 200);
        assertTrue(
                patched.get("fields").get("phone").get("device").asText().startsWith("server."),
                "the office's write is stamped by a replica's clock: " + patched);
        List<Change> pulled = tablet.pullAll();
        assertTrue(
                pulled.stream()
                        .anyMatch(c -> c.rowId().equals(f1)
                                && "phone".equals(c.field())
                                && SyncService.isServerNode(c.deviceId())),
                pulled.toString());

        // A device's concurrent edit to a review field opens a conflict against the office's, as between devices.
        Change deviceYield =
                other.assign("crop_record", c1, scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("950")));
        json(as().body("{\"yield_kg\": 1000}").patch("/v1/admin/data/crop_record/" + c1), 200);
        other.push(List.of(deviceYield));
        JsonNode crop = json(as().get("/v1/admin/data/crop_record/" + c1), 200);
        assertEquals(1, crop.get("conflicts").size(), crop.toString());
        assertEquals("yield_kg", crop.get("conflicts").get(0).get("field").asText());
        assertEquals(2, crop.get("conflicts").get(0).get("candidates").size(), crop.toString());

        // Counters and sets have their own operations.
        JsonNode added = json(
                as().body("{\"field\": \"bags_harvested\", \"n\": 4}")
                        .post("/v1/admin/data/crop_record/" + c1 + "/add"),
                200);
        assertEquals(4, added.get("fields").get("bags_harvested").get("value").asInt());
        JsonNode tagged = json(
                as().body("{\"field\": \"pests\", \"edits\": [\"+armyworm\", \"+aphids\"]}")
                        .post("/v1/admin/data/crop_record/" + c1 + "/tag"),
                200);
        assertEquals(
                "[\"aphids\",\"armyworm\"]",
                tagged.get("fields").get("pests").get("value").toString());
        JsonNode armyworm = json(as().get("/v1/admin/data/crop_record?pests=armyworm&district=" + scope), 200);
        assertEquals(c1, armyworm.get(0).get("id").asText());
        assertEquals(4, armyworm.get(0).get("bags_harvested").asInt());

        // A new row needs its scope; PUT creates it; DELETE removes it, and devices get the delete.
        String v = scope + "-f3";
        json(as().body("{\"name\": \"Wanjiru\"}").put("/v1/admin/data/farmer/" + v), 400);
        json(
                as().body("{\"name\": \"Wanjiru\", \"district\": \"" + scope + "\"}")
                        .put("/v1/admin/data/farmer/" + v),
                200);
        assertEquals(204, as().delete("/v1/admin/data/farmer/" + v).statusCode());
        assertEquals(404, as().get("/v1/admin/data/farmer/" + v).statusCode());
        assertTrue(tablet.pullAll().stream().anyMatch(c -> c.rowId().equals(v) && c.op() instanceof Op.Delete));

        // Bad input: a clear problem with a stable code, and nothing changed.
        String before = as().get("/v1/admin/data/crop_record/" + c1).asString();
        assertEquals(
                "unknown-table",
                json(as().get("/v1/admin/data/farmers"), 422).get("code").asText());
        assertEquals(
                "unknown-field",
                json(as().body("{\"colour\": \"red\"}").patch("/v1/admin/data/crop_record/" + c1), 422)
                        .get("code")
                        .asText());
        assertEquals(
                "type-mismatch",
                json(as().body("{\"stage\": \"tall\"}").patch("/v1/admin/data/crop_record/" + c1), 422)
                        .get("code")
                        .asText());
        assertEquals(
                "operation-not-allowed",
                json(as().body("{\"bags_harvested\": 7}").patch("/v1/admin/data/crop_record/" + c1), 422)
                        .get("code")
                        .asText());
        assertEquals(
                "scope-change",
                json(
                                as().body("{\"stage\": 3, \"district\": \"elsewhere\"}")
                                        .patch("/v1/admin/data/crop_record/" + c1),
                                422)
                        .get("code")
                        .asText());
        assertEquals(
                "type-mismatch",
                json(as().get("/v1/admin/data/crop_record?stage=tall"), 422)
                        .get("code")
                        .asText());
        assertEquals(before, as().get("/v1/admin/data/crop_record/" + c1).asString(), "nothing changed");
        assertEquals(401, given().get("/v1/admin/data/farmer").statusCode());
    }
}
