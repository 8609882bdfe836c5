package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.device.home.DeviceHome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Schema upgrades in the field, with the real service and the real binary. A device home made by the previous
 * release on schema version 1 (src/test/fixtures/home-v4, every change pending) meets a service on version 2: it
 * upgrades itself in one transaction, keeps and pushes its pending changes, and receives what version 1 could not
 * hold (a new table's rows, a new field's values) written before it upgraded. A schema that does not only add is
 * refused and every local change kept.
 */
class SchemaUpgradeIT {
    private static final Path FIXTURE = Path.of("src/test/fixtures/home-v4");
    private static final Path V1 = Path.of("../examples/farm-schema.yaml").toAbsolutePath();
    private static final Path V2 = Path.of("../sync-service/src/test/resources/schemas/farm-schema-v2.yaml")
            .toAbsolutePath();

    @TempDir
    Path dir;

    /** The fixture's home, pointed at {@code service} with a credential it issued (the same device, a new server). */
    private Outpost fieldHome(Service service) throws Exception {
        Path home = dir.resolve("home-v4");
        Files.createDirectories(home);
        for (String f : List.of(DeviceHome.DB_FILE, DeviceHome.SCHEMA_FILE, DeviceHome.SCHEMA_JSON_FILE)) {
            Files.copy(FIXTURE.resolve(f), home.resolve(f));
        }
        Files.writeString(home.resolve(DeviceHome.CREDENTIAL_FILE), service.register("home-v4", "nakuru"));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve(DeviceHome.DB_FILE));
                PreparedStatement ps = c.prepareStatement("update meta set value = ? where key = 'server'")) {
            ps.setString(1, service.url);
            ps.executeUpdate();
        }
        return new Outpost(home);
    }

    private Outpost office(Service service) throws Exception {
        Outpost office = new Outpost(dir.resolve("office"));
        office.run(
                        "init",
                        "--server",
                        service.url,
                        "--device-id",
                        "office",
                        "--token",
                        service.register("office", "nakuru"),
                        "--schema",
                        V2.toString())
                .ok();
        return office;
    }

    @Test
    void anOldDeviceUpgradesKeepsItsPendingChangesAndReceivesWhatItsOldSchemaCouldNotHold() throws Exception {
        Map<String, String> v2WithV1Served =
                Map.of("OUTPOST_SCHEMA_PATH", V2.toString(), "OUTPOST_SCHEMA_PREVIOUS_PATHS", V1.toString());
        try (Service service = Service.start(dir.resolve("service"), Service.freePort(), v2WithV1Served)) {
            Outpost field = fieldHome(service);
            Outpost office = office(service);
            long pending = TestJson.number(field.run("status", "--json").ok().out(), "pending");
            assertTrue(pending >= 5, "the fixture's changes are pending: " + pending);

            // Before the field device upgrades, the office writes what version 1 cannot hold: a new field on a row
            // the field device also wrote (offline, pending), a new farmer with it, and a row of the new table.
            office.run("put", "farmer", "f1", "gender=f").ok();
            office.run("put", "farmer", "f9", "name=Chebet Ruto", "village=Njoro", "gender=f")
                    .ok();
            office.run("put", "visit", "v1", "farmer_id=f9", "visited_on=2026-11-30")
                    .ok();
            office.run("sync").ok();

            Outpost.Result sync = field.run("sync", "--json");
            assertEquals(0, sync.exit(), sync.err());
            JsonNode result = TestJson.parse(sync.out());
            assertEquals(pending, result.get("pushed").asLong(), "every pending change went out: " + sync.out());
            assertEquals(2, result.get("schemaVersion").asInt());
            assertTrue(result.get("backfilled").asInt() >= 4, "gender twice, and the visit: " + sync.out());

            // The upgraded device holds the new table and field, in its rows and in its typed tables.
            JsonNode visit = TestJson.parse(field.run("get", "visit", "v1").ok().out());
            assertEquals("2026-11-30", visit.get("visited_on").asText());
            assertEquals("f9", visit.get("farmer_id").asText());
            assertEquals(
                    "f",
                    TestJson.parse(field.run("get", "farmer", "f1").ok().out())
                            .get("gender")
                            .asText());
            JsonNode f1 =
                    TestJson.parse(field.run("query", "select name, village, gender from farmer where id = ?", "f1")
                            .ok()
                            .out());
            assertEquals("Njeri Wambui", f1.get("name").asText(), "the field device's own write, kept");
            assertEquals("f", f1.get("gender").asText(), "the office's write to the new field");
            assertEquals(
                    "Chebet Ruto",
                    TestJson.parse(field.run("query", "select f.name from visit v join farmer f on f.id = v.farmer_id")
                                    .ok()
                                    .out())
                            .get("name")
                            .asText());
            assertEquals(0, TestJson.number(field.run("status", "--json").ok().out(), "pending"));
            assertTrue(
                    Files.readString(field.home.resolve(DeviceHome.SCHEMA_JSON_FILE))
                            .contains("\"version\":2"),
                    "the home's schema file follows the upgrade");

            // The field device's pending writes reached the office; both now show the same rows.
            office.run("sync").ok();
            for (String[] row : List.of(
                    new String[] {"farmer", "f1"},
                    new String[] {"farmer", "f9"},
                    new String[] {"visit", "v1"},
                    new String[] {"crop_record", "c1"})) {
                assertEquals(
                        TestJson.parse(office.run("get", row[0], row[1]).ok().out()),
                        TestJson.parse(field.run("get", row[0], row[1]).ok().out()),
                        row[0] + "/" + row[1]);
            }

            // After the upgrade, the device writes the new table like any other; a second sync backfills nothing.
            field.run("put", "visit", "v2", "farmer_id=f1", "visited_on=2026-12-01")
                    .ok();
            JsonNode again = TestJson.parse(field.run("sync", "--json").ok().out());
            assertEquals(2, again.get("pushed").asInt(), "the new row's two fields");
            assertEquals(0, again.get("backfilled").asInt());
        }
    }

    @Test
    void aSchemaThatDoesNotOnlyAddIsRefusedAndEveryLocalChangeKept() throws Exception {
        Path incompatible = dir.resolve("farm-schema-v3.yaml");
        Files.writeString(
                incompatible,
                Files.readString(V1)
                        .replace("version: 1", "version: 3")
                        .replace("phone: {type: text, merge: review}", "phone: {type: int}"));
        try (Service service = Service.start(
                dir.resolve("service"), Service.freePort(), Map.of("OUTPOST_SCHEMA_PATH", incompatible.toString()))) {
            Outpost field = fieldHome(service);
            String before = field.run("status", "--json").ok().out();
            String f1 = field.run("get", "farmer", "f1").ok().out();

            Outpost.Result sync = field.run("sync");
            assertEquals(4, sync.exit(), sync.err());
            assertTrue(sync.err().contains("does not only add"), sync.err());
            assertTrue(sync.err().contains("farmer.phone"), sync.err());

            String after = field.run("status", "--json").ok().out();
            assertEquals(TestJson.number(before, "pending"), TestJson.number(after, "pending"), "every change kept");
            assertEquals(
                    TestJson.parse(f1),
                    TestJson.parse(field.run("get", "farmer", "f1").ok().out()));
            assertTrue(
                    Files.readString(field.home.resolve(DeviceHome.SCHEMA_JSON_FILE))
                            .contains("\"version\":1"),
                    "the device stays on its schema");
        }
    }
}
