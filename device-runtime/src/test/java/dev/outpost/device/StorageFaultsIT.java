package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The device's storage filling up, end to end: the real {@code outpost} runs with its database unable to grow
 * ({@code OUTPOST_FAULT_DB_PAGES_MAX}: SQLite answers a write that needs a page with SQLITE_FULL, exactly as on a full
 * disk) during a local write, a pulled page and a snapshot install. Each is exit 5 with one clear line, nothing of it
 * half-applied, everything saved before kept; once space is back the same command goes on to the end.
 */
class StorageFaultsIT extends WithService {
    private static final List<String> FULL = List.of("env", "OUTPOST_FAULT_DB_PAGES_MAX=1");

    private static Outpost device(String id) throws Exception {
        Outpost d = new Outpost(dir.resolve(id));
        d.run("init", "--server", service.url, "--device-id", id, "--token", service.register(id, "full"))
                .ok();
        return d;
    }

    private static Map<String, String> names(Outpost d) throws Exception {
        Map<String, String> out = new HashMap<>();
        try (OutpostDevice lib = OutpostDevice.open(d.home)) {
            for (var row : lib.rows().query("select id, name from farmer", List.of())) {
                out.put((String) row.get("id"), (String) row.get("name"));
            }
        }
        return out;
    }

    private static long pending(Outpost d) throws Exception {
        return TestJson.number(d.run("status", "--json").ok().out(), "pending");
    }

    private static void assertFull(Outpost.Result r) {
        assertEquals(5, r.exit(), r.err());
        assertTrue(r.err().contains("storage is full"), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
    }

    @Test
    void aFullDiskStopsAWriteAPageAndAnInstallWithNothingHalfDoneAndTheyGoOnOnceSpaceIsBack() throws Exception {
        Outpost office = device("full-office");
        try (OutpostDevice lib = OutpostDevice.open(office.home)) {
            for (int i = 0; i < 3000; i++) {
                lib.rows().put("farmer", "full-f" + i, Map.of("name", "Farmer " + i + " " + "x".repeat(60)));
            }
        }
        office.run("put", "crop_record", "c1", "notes=before").ok();
        long before = pending(office);

        // A local write: refused whole, the row and the pending changes as they were.
        assertFull(office.run(FULL, "put", "crop_record", "c1", "notes=" + "n".repeat(60_000), "crop=maize"));
        String c1 = office.run("get", "crop_record", "c1").ok().out();
        assertEquals("before", TestJson.parse(c1).get("notes").asText(), c1);
        assertTrue(TestJson.parse(c1).get("crop").isNull(), "no field of the refused write was saved: " + c1);
        assertEquals(before, pending(office));
        office.run("sync").ok();

        // A pulled page: a tablet with room for nothing more applies no page, keeps its place, then catches up.
        Outpost late = device("full-late");
        assertFull(late.run(FULL, "sync"));
        assertEquals(Map.of(), names(late), "no page half-applied");
        late.run("sync").ok();
        assertEquals(names(office), names(late));

        // A snapshot install: nothing installed, and the next sync installs it.
        var built = service.admin("POST", "/v1/admin/snapshots", "");
        assertEquals(200, built.statusCode(), built.body());
        Outpost fresh = device("full-fresh");
        assertFull(fresh.run(FULL, "sync"));
        assertEquals(Map.of(), names(fresh), "nothing of the snapshot stayed");
        String status = fresh.run("status", "--json").ok().out();
        assertFalse(
                TestJson.parse(status).hasNonNull("cursor")
                        && !TestJson.parse(status).get("cursor").asText().isEmpty(),
                "no cursor: the install did not happen: " + status);
        String out = fresh.run("sync").ok().out();
        assertTrue(out.contains("started from the snapshots of full"), out);
        assertEquals(names(office), names(fresh));
    }
}
