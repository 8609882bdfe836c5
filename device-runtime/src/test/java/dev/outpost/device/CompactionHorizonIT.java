package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device that slept past the compaction horizon comes back, end to end: the real service (every device counted idle
 * at once, so its horizon is its oldest kept snapshot) compacts its feed; the real {@code outpost}, answered
 * cursor-behind-horizon, installs the scope's snapshot over what it holds, pushes what it wrote while away, pulls what
 * came after, and converges with the office, every counter increment counted once.
 */
class CompactionHorizonIT {
    @TempDir
    static Path dir;

    static Service service;

    @BeforeAll
    static void startService() throws Exception {
        // Every device counts idle at once; tombstones are collected from a second old (no retry window).
        service = Service.start(
                dir,
                Service.freePort(),
                Map.of(
                        "OUTPOST_COMPACTION_DEVICE_IDLE", "PT0S",
                        "OUTPOST_RETENTION_BATCH_RETRY_WINDOW", "PT0S",
                        "OUTPOST_SYNC_MAX_CLOCK_SKEW", "PT1S"));
    }

    @AfterAll
    static void stopService() throws Exception {
        if (service != null) {
            service.close();
        }
    }

    private static Outpost device(String id) throws Exception {
        Outpost d = new Outpost(dir.resolve(id));
        d.run("init", "--server", service.url, "--device-id", id, "--token", service.register(id, "horizon"))
                .ok();
        return d;
    }

    private static JsonNode admin(String path) throws Exception {
        var r = service.admin("POST", path, "");
        assertEquals(200, r.statusCode(), r.body());
        return TestJson.parse(r.body());
    }

    @Test
    void aDeviceThatSleptPastTheHorizonStartsAgainFromTheSnapshotAndLosesNothing() throws Exception {
        Outpost office = device("ch-office");
        for (int i = 0; i < 40; i++) {
            office.run("put", "farmer", "f" + i, "name=Farmer " + i).ok();
        }
        office.run("put", "crop_record", "c1", "crop=maize").ok();
        office.run("add", "crop_record", "c1", "bags_harvested", "5").ok();
        office.run("tag", "crop_record", "c1", "pests", "+aphids").ok();
        office.run("sync").ok();

        Outpost sleeper = device("ch-sleeper");
        sleeper.run("sync").ok();
        assertEquals(
                5, TestJson.number(sleeper.run("get", "crop_record", "c1").ok().out(), "bags_harvested"));
        // Away from any link: edits to rows it holds and a new row, all pending.
        sleeper.run("put", "farmer", "f1", "village=Kisumu").ok();
        sleeper.run("add", "crop_record", "c1", "bags_harvested", "3").ok();
        sleeper.run("put", "farmer", "away", "name=Met while away").ok();

        // Meanwhile the office renames, counts, deletes; a snapshot is built; more comes after it.
        office.run("put", "farmer", "f2", "name=Renamed").ok();
        office.run("add", "crop_record", "c1", "bags_harvested", "2").ok();
        office.run("delete", "farmer", "f3").ok();
        office.run("tag", "crop_record", "c1", "pests", "-aphids").ok();
        office.run("sync").ok();
        admin("/v1/admin/snapshots");
        office.run("put", "farmer", "f40", "name=After the snapshot").ok();
        office.run("sync").ok();
        JsonNode compacted = admin("/v1/admin/compaction");
        assertTrue(compacted.get("ran").asBoolean(), compacted.toString());
        assertTrue(compacted.get("entries").get("horizon").asLong() >= 2, compacted.toString());

        String back = sleeper.run("sync").ok().out();
        assertTrue(back.contains("started from the snapshots of horizon"), back);

        office.run("sync").ok();
        for (String id : new String[] {"f1", "f2", "f40", "away"}) {
            assertEquals(
                    office.run("get", "farmer", id).ok().out(),
                    sleeper.run("get", "farmer", id).ok().out(),
                    "farmer/" + id + " differs");
        }
        assertEquals(
                "Kisumu",
                TestJson.parse(office.run("get", "farmer", "f1").ok().out())
                        .get("village")
                        .asText());
        assertEquals(
                "Met while away",
                TestJson.parse(office.run("get", "farmer", "away").ok().out())
                        .get("name")
                        .asText());
        assertEquals(
                "Renamed",
                TestJson.parse(sleeper.run("get", "farmer", "f2").ok().out())
                        .get("name")
                        .asText());
        assertEquals(2, sleeper.run("get", "farmer", "f3").exit(), "the office's delete reached the sleeper");
        for (Outpost o : new Outpost[] {office, sleeper}) {
            String crop = o.run("get", "crop_record", "c1").ok().out();
            assertEquals(10, TestJson.number(crop, "bags_harvested"), o.home + ": every increment once: " + crop);
            // The service collected the removed tag's tombstone when the row was next written; the sleeper, which held
            // the tag live, rebuilt the row on the snapshot's rather than joining it back.
            assertEquals(
                    java.util.List.of(),
                    TestJson.parse(crop).has("pests")
                            ? TestJson.texts(TestJson.parse(crop).get("pests"))
                            : java.util.List.of(),
                    o.home + ": the aphids removed while it slept stay removed: " + crop);
        }
        assertEquals(0, TestJson.number(sleeper.run("status", "--json").ok().out(), "pending"));
        // Back on the feed: the next sync neither starts over nor is refused.
        String again = sleeper.run("sync").ok().out();
        assertFalse(again.contains("started from the snapshots"), again);
    }
}
