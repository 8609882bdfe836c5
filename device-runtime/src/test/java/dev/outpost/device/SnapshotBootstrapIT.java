package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A fresh device starts from its scope's snapshot, end to end: the real service builds it, the real {@code outpost}
 * fetches, checks and installs it in its first sync, then pulls only what came after; a row it wrote before that
 * first sync is kept and pushed.
 */
class SnapshotBootstrapIT extends WithService {
    private static final Pattern STARTED =
            Pattern.compile("started from the snapshots of snapboot: (\\d+) rows, then the feed from (\\S+)");
    private static final Pattern PULLED = Pattern.compile("pulled (\\d+)");

    private static Outpost device(String id) throws Exception {
        return device(id, "snapboot", service.url);
    }

    private static Outpost device(String id, String scope, String url) throws Exception {
        Outpost d = new Outpost(dir.resolve(id));
        d.run("init", "--server", url, "--device-id", id, "--token", service.register(id, scope))
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

    private static String village(Outpost d, String id) throws Exception {
        try (OutpostDevice lib = OutpostDevice.open(d.home)) {
            return (String) lib.rows()
                    .query("select village from farmer where id = ?", List.of(id))
                    .getFirst()
                    .get("village");
        }
    }

    @Test
    void aFreshDeviceStartsFromItsScopesSnapshotAndPullsOnlyWhatCameAfter() throws Exception {
        Outpost field = device("sb-field");
        try (OutpostDevice lib = OutpostDevice.open(field.home)) {
            for (int i = 0; i < 300; i++) {
                lib.rows().put("farmer", "sb-f" + i, Map.of("name", "Farmer " + i));
            }
        }
        field.run("sync").ok();
        var built = service.admin("POST", "/v1/admin/snapshots", "");
        assertEquals(200, built.statusCode(), built.body());
        JsonNode mine = null;
        for (JsonNode b : TestJson.parse(built.body()).get("built")) {
            if (b.get("scope").asText().equals("snapboot")) {
                mine = b;
            }
        }
        assertEquals(300, mine.get("rows").asLong(), built.body());

        // After the build: five new farmers and a rename.
        try (OutpostDevice lib = OutpostDevice.open(field.home)) {
            for (int i = 300; i < 305; i++) {
                lib.rows().put("farmer", "sb-f" + i, Map.of("name", "Farmer " + i));
            }
            lib.rows().put("farmer", "sb-f0", Map.of("name", "Renamed after the snapshot"));
        }
        field.run("sync").ok();

        Outpost fresh = device("sb-fresh");
        fresh.run("put", "farmer", "sb-local", "name=Written before the first sync")
                .ok();
        // A row the snapshot holds too, edited here first: the install joins the two, losing neither.
        fresh.run("put", "farmer", "sb-f7", "village=Njoro").ok();
        String out = fresh.run("sync").ok().out();
        Matcher started = STARTED.matcher(out);
        assertTrue(started.find(), out);
        assertEquals(300, Integer.parseInt(started.group(1)), out);
        assertEquals(mine.get("cursor").asText(), started.group(2));
        Matcher pulled = PULLED.matcher(out);
        assertTrue(pulled.find(), out);
        assertTrue(
                Integer.parseInt(pulled.group(1)) < 50,
                "only what came after the snapshot is pulled, not the scope's whole feed: " + out);

        Map<String, String> names = names(fresh);
        assertEquals(306, names.size(), "300 from the snapshot, 5 from the feed, 1 written here");
        assertEquals("Renamed after the snapshot", names.get("sb-f0"));
        assertEquals("Farmer 304", names.get("sb-f304"));
        assertEquals("Written before the first sync", names.get("sb-local"));
        assertEquals("Farmer 7", names.get("sb-f7"));
        assertEquals("Njoro", village(fresh, "sb-f7"), "the edit made before the install stays");

        // Its own write went out; the snapshot is not taken twice.
        field.run("sync").ok();
        assertEquals("Written before the first sync", names(field).get("sb-local"));
        String again = fresh.run("sync").ok().out();
        assertTrue(!again.contains("started from the snapshots"), again);
        assertEquals(names(field), names(fresh), "both hold the same rows");
        assertEquals("Njoro", village(field, "sb-f7"));

        // A device holding no row: its typed tables are filled with their indexes dropped, built again after.
        Outpost empty = device("sb-empty");
        assertTrue(empty.run("sync").ok().out().contains("started from the snapshots"));
        assertEquals(names(field), names(empty));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + empty.home.resolve("outpost.db"));
                Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("pragma integrity_check")) {
                assertTrue(rs.next());
                assertEquals("ok", rs.getString(1));
            }
            // INDEXED BY fails when the index is not there.
            try (ResultSet rs =
                    st.executeQuery("select id from farmer indexed by farmer_village where village = 'Njoro'")) {
                assertTrue(rs.next());
                assertEquals("sb-f7", rs.getString(1));
                assertTrue(!rs.next());
            }
        }
    }

    @Test
    void aSnapshotDownloadCutShortInOneSyncGoesOnFromWhereItStoodInTheNext() throws Exception {
        Outpost field = device("cut-field", "snapcut", service.url);
        try (OutpostDevice lib = OutpostDevice.open(field.home)) {
            for (int i = 0; i < 2000; i++) {
                lib.rows()
                        .put(
                                "farmer",
                                "cut-f" + i,
                                Map.of("name", java.util.UUID.randomUUID().toString()));
            }
        }
        field.run("sync").ok();
        var built = service.admin("POST", "/v1/admin/snapshots", "");
        assertEquals(200, built.statusCode(), built.body());
        long bytes = 0;
        for (JsonNode b : TestJson.parse(built.body()).get("built")) {
            if (b.get("scope").asText().equals("snapcut")) {
                bytes = b.get("bytes").asLong();
            }
        }
        // Six attempts of 8 KB each cannot bring it whole: the first sync stops with the file part-fetched.
        assertTrue(bytes > 6 * 8 * 1024, "the snapshot is larger than one sync's attempts bring: " + bytes);

        int port = Integer.parseInt(service.url.substring(service.url.lastIndexOf(':') + 1));
        try (FaultyProxy link = new FaultyProxy(port, 8 * 1024)) {
            Outpost fresh = device("cut-fresh", "snapcut", link.url());
            assertEquals(3, fresh.run("sync").exit(), "the link keeps dropping: unreachable, nothing installed");
            assertTrue(link.cuts.get() >= 6, "cut " + link.cuts.get() + " times");

            link.cutEvery(Long.MAX_VALUE);
            int rangesBefore = link.rangeRequests.get();
            String out = fresh.run("sync").ok().out();
            assertTrue(out.contains("started from the snapshots of snapcut: 2000 rows"), out);
            assertEquals(
                    rangesBefore + 1,
                    link.rangeRequests.get(),
                    "a link that no longer drops was asked once, for the rest of what the last sync fetched");
            assertEquals(names(field), names(fresh));
        }
    }
}
