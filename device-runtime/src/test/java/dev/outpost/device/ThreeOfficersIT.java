package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The farm scenario end to end: the real service (embedded PostgreSQL) and three device homes driven through the
 * real {@code outpost} file. Three officers edit the same farm offline, sync in different orders, and end with the
 * same data everywhere.
 */
class ThreeOfficersIT extends WithService {

    private static Outpost device(String id) throws Exception {
        Outpost o = new Outpost(dir.resolve(id));
        o.run("init", "--server", service.url, "--device-id", id, "--token", service.register(id, "nakuru"))
                .ok();
        return o;
    }

    @Test
    void threeOfficersEditTheSameFarmOfflineAndConverge() throws Exception {
        Outpost a = device("officer-a"), b = device("officer-b"), c = device("officer-c");

        // Officer A registers the farmer, the plot and the crop, and syncs; the others pick them up.
        a.run("put", "farmer", "f1", "name=Wanjiru Kamau", "village=Njoro", "phone=+254700000001")
                .ok();
        a.run("put", "plot", "p1", "farmer_id=f1", "area_ha=1.25").ok();
        a.run("put", "crop_record", "c1", "plot_id=p1", "crop=maize", "stage=2").ok();
        a.run("sync").ok();
        b.run("sync").ok();
        c.run("sync").ok();
        assertEquals(
                a.run("get", "crop_record", "c1").ok().out(),
                c.run("get", "crop_record", "c1").ok().out());

        // Offline: everyone edits the same farm.
        a.run("put", "farmer", "f1", "village=Molo").ok();
        a.run("add", "crop_record", "c1", "bags_harvested", "5").ok();
        a.run("tag", "crop_record", "c1", "pests", "+aphids").ok();
        a.run("put", "crop_record", "c1", "yield_kg=1200", "stage=4").ok();
        a.run("put", "plot", "p1", "soil_type=clay loam").ok();

        b.run("put", "farmer", "f1", "village=Rongai").ok();
        b.run("add", "crop_record", "c1", "bags_harvested", "7").ok();
        b.run("tag", "crop_record", "c1", "pests", "+stalk borer").ok();
        b.run("put", "crop_record", "c1", "yield_kg=1350", "stage=3").ok();

        c.run("add", "crop_record", "c1", "bags_harvested", "-2").ok();
        c.run("tag", "crop_record", "c1", "pests", "+aphids", "-aphids").ok();
        c.run("delete", "plot", "p1").ok();

        // Back in coverage, in different orders; then everyone once more.
        for (Outpost o : List.of(b, c, a, b, c)) {
            o.run("sync").ok();
        }

        Outpost fresh = device("supervisor-tablet");
        fresh.run("sync").ok();
        for (String[] row : List.of(new String[] {"farmer", "f1"}, new String[] {"crop_record", "c1"})) {
            String expected = a.run("get", row[0], row[1]).ok().out();
            for (Outpost o : List.of(b, c, fresh)) {
                assertEquals(
                        expected,
                        o.run("get", row[0], row[1]).ok().out(),
                        o.home + " differs on " + row[0] + "/" + row[1]);
            }
        }
        String crop = a.run("get", "crop_record", "c1").ok().out();
        assertEquals(10, TestJson.number(crop, "bags_harvested"), "every increment counts once: " + crop);
        // An app's SQL over the typed tables sees on every tablet what get shows.
        for (Outpost o : List.of(a, b, c, fresh)) {
            String typed = o.run("query", "select id, stage, bags_harvested, pests from crop_record where id = ?", "c1")
                    .ok()
                    .out()
                    .strip();
            var row = TestJson.parse(typed);
            assertEquals("c1", row.get("id").asText(), typed);
            assertEquals(TestJson.number(crop, "stage"), row.get("stage").asLong(), o.home + ": " + typed);
            assertEquals(
                    TestJson.number(crop, "bags_harvested"),
                    row.get("bags_harvested").asLong(),
                    typed);
            assertEquals(
                    TestJson.texts(TestJson.parse(crop).get("pests")),
                    TestJson.texts(TestJson.parse(row.get("pests").asText())),
                    typed);
        }
        // Every row of every table: the typed tables hold what get (through list) shows, on every tablet.
        for (Outpost o : List.of(a, b, c, fresh)) {
            for (String table : List.of("farmer", "plot", "crop_record")) {
                List<com.fasterxml.jackson.databind.JsonNode> shown = o.run("list", table)
                        .ok()
                        .out()
                        .lines()
                        .map(TestJson::parse)
                        .toList();
                List<com.fasterxml.jackson.databind.JsonNode> typed = o.run(
                                "query", "select * from " + table + " order by id")
                        .ok()
                        .out()
                        .lines()
                        .map(TestJson::parse)
                        .toList();
                assertEquals(shown.size(), typed.size(), o.home + " " + table);
                for (int i = 0; i < shown.size(); i++) {
                    assertSameRow(shown.get(i), typed.get(i), o.home + " " + table);
                }
            }
        }
        assertEquals(
                List.of("aphids", "stalk borer"),
                TestJson.texts(TestJson.parse(crop).get("pests")),
                "add wins over an unseen remove: " + crop);
        assertEquals(4, TestJson.number(crop, "stage"), "stage only moves forward: " + crop);

        // The plot was deleted while A updated it: deleted everywhere, and A's update kept as a conflict.
        for (Outpost o : List.of(a, b, c, fresh)) {
            assertEquals(2, o.run("get", "plot", "p1").exit(), "plot p1 should read as deleted on " + o.home);
            String conflicts = o.run("conflicts").ok().out();
            assertTrue(
                    TestJson.hasObject(conflicts, java.util.Map.of("kind", "concurrent-writes", "field", "yield_kg"))
                            && TestJson.hasObject(conflicts, java.util.Map.of("value", "1200", "field", "yield_kg"))
                            && TestJson.hasObject(conflicts, java.util.Map.of("value", "1350", "field", "yield_kg")),
                    "the yield conflict with both values on " + o.home + ": " + conflicts);
            assertTrue(
                    TestJson.hasObject(conflicts, java.util.Map.of("kind", "delete-vs-update"))
                            && TestJson.hasObject(conflicts, java.util.Map.of("value", "clay loam")),
                    "the delete-vs-update conflict on " + o.home + ": " + conflicts);
        }
        String serverConflicts = service.admin("/v1/admin/conflicts");
        assertTrue(
                serverConflicts.contains("yield_kg") && serverConflicts.contains("delete-vs-update"), serverConflicts);
    }

    @Test
    void badInputOnTheCommandLineChangesNothing() throws Exception {
        Outpost d = device("officer-d");
        d.run("put", "farmer", "f9", "name=Chebet").ok();
        String before = d.run("list", "farmer").ok().out()
                + d.run("status", "--json").ok().out();

        assertEquals(2, d.run("put", "cattle", "x1", "name=Daisy").exit());
        assertEquals(2, d.run("put", "farmer", "f9", "shoe_size=42").exit());
        assertEquals(2, d.run("put", "crop_record", "c9", "stage=three").exit());
        assertEquals(2, d.run("put", "crop_record", "c9", "bags_harvested=3").exit());
        assertEquals(2, d.run("tag", "crop_record", "c9", "pests", "aphids").exit());
        assertEquals(2, d.run("get", "farmer", "nobody").exit());
        assertEquals(1, d.run("put", "farmer").exit());
        assertEquals(1, d.run("frobnicate").exit());
        // Every missing or mistyped argument is a usage error (1), never a failure of the program (5).
        assertEquals(1, d.run("get", "farmer").exit());
        assertEquals(1, d.run("put", "farmer", "f9").exit());
        assertEquals(1, d.run("add", "crop_record", "c9", "bags_harvested").exit());
        assertEquals(
                1, d.run("add", "crop_record", "c9", "bags_harvested", "three").exit());
        assertEquals(1, d.run("tag", "crop_record", "c9", "pests").exit());
        assertEquals(1, d.run("model").exit());
        assertEquals(1, d.run("model", "update", "--health-tries", "many").exit());
        assertEquals(1, d.run("run", "--interval", "soon").exit());
        assertEquals(1, d.run().exit());
        Outpost.Result help = d.run("--help");
        assertEquals(0, help.exit());
        assertTrue(help.out().contains("Exit codes:") && help.out().contains("conflicts"), help.out());
        Outpost.Result bad = d.run("put", "farmer", "f9", "shoe_size=42");
        assertTrue(
                bad.err().startsWith("outpost: ")
                        && !bad.err().contains("Exception")
                        && bad.err().lines().count() == 1,
                bad.err());

        assertEquals(
                before,
                d.run("list", "farmer").ok().out()
                        + d.run("status", "--json").ok().out());
    }

    @Test
    void offlineSyncExitsThreeAndLosesNothing() throws Exception {
        Outpost e = new Outpost(dir.resolve("officer-e"));
        e.run(
                        "init",
                        "--server",
                        "http://127.0.0.1:9",
                        "--device-id",
                        "officer-e",
                        "--token",
                        "opd_x",
                        "--scope",
                        "nakuru")
                .ok();
        e.run("put", "farmer", "f5", "name=Achieng").ok();
        Outpost.Result r = e.run("sync");
        assertEquals(3, r.exit(), r.err());
        assertTrue(r.err().contains("unreachable"), r.err());
        assertEquals(1, TestJson.number(e.run("status", "--json").ok().out(), "pending"));
        assertEquals(
                Files.getPosixFilePermissions(dir.resolve("officer-e").resolve("credential")),
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    /** A row as get shows it against the typed table's row: every field, sets and decimals compared as values. */
    private static void assertSameRow(
            com.fasterxml.jackson.databind.JsonNode shown,
            com.fasterxml.jackson.databind.JsonNode typed,
            String where) {
        var names = shown.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            var v = shown.get(name);
            var t = typed.get(name);
            String at = where + " " + shown.get("id").asText() + "." + name;
            if (v.isNull()) {
                assertTrue(t == null || t.isNull(), at + ": " + t);
            } else if (v.isArray()) {
                assertEquals(TestJson.texts(v), TestJson.texts(TestJson.parse(t.asText())), at);
            } else if (v.isBoolean()) {
                assertEquals(v.asBoolean() ? 1 : 0, t.asInt(), at);
            } else if (v.isNumber()) {
                assertEquals(v.decimalValue().doubleValue(), t.asDouble(), 1e-9, at);
            } else {
                assertEquals(v.asText(), t.asText(), at);
            }
        }
    }
}
