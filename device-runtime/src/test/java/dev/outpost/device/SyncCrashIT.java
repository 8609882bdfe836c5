package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.sqlite.SqliteChangeLog;
import dev.outpost.device.sqlite.SqliteDatabase;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.model.change.Change;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Kills {@code outpost sync} with SIGKILL at seeded random moments (50 in CI), keeps editing in between, then syncs
 * to the end: the service must hold every change the device made exactly once (in its feed, and in its counters: each
 * the sum of the increments the device acknowledged), and the device nothing pending.
 * Replay a failure with {@code -Doutpost.crash.seed=SEED}.
 */
class SyncCrashIT extends WithService {
    private static final int KILLS = Integer.getInteger("outpost.crash.kills", 50);

    @Test
    void killingSyncAtRandomPointsLosesAndDoublesNothing() throws Exception {
        long seed = Long.getLong("outpost.crash.seed", System.nanoTime());
        Random random = new Random(seed);
        String id = "crash-officer";
        Outpost device = new Outpost(dir.resolve(id));
        device.run("init", "--server", service.url, "--device-id", id, "--token", service.register(id, "nakuru"))
                .ok();
        // Another device writes too, so pulls have work to do while we kill.
        String otherToken = service.register("other-officer", "nakuru");

        // Kill delays adapt to how long a sync takes here: shorter after a sync that finished first, longer after
        // a kill, so that at least KILLS kills land while sync runs (bounded number of rounds).
        int kills = 0;
        int rounds = 0;
        // Every counter increment the device acknowledged, by row: merge is idempotent, so a batch applied twice is
        // not fed twice, but it would add its increments twice; the service's counters show that.
        Map<String, Long> acknowledged = new java.util.TreeMap<>();
        double delayMaxMs = 1500;
        while (kills < KILLS && rounds < 4 * KILLS) {
            rounds++;
            try (OutpostDevice lib = OutpostDevice.open(device.home)) {
                for (int i = 0; i < 100 + random.nextInt(600); i++) {
                    int row = random.nextInt(300);
                    switch (random.nextInt(3)) {
                        case 0 -> lib.rows().put("farmer", "f" + row, Map.of("name", "name " + rounds + "/" + i));
                        case 1 -> {
                            int n = 1 + random.nextInt(5);
                            lib.rows().add("crop_record", "c" + row, "bags_harvested", n);
                            acknowledged.merge("c" + row, (long) n, Long::sum); // returned: the user saw it saved
                        }
                        default ->
                            lib.rows().tag("crop_record", "c" + row, "pests", List.of("+pest" + random.nextInt(8)));
                    }
                }
            }
            pushAsOther(otherToken, rounds);
            ProcessBuilder pb = new ProcessBuilder(
                    Outpost.BINARY.toAbsolutePath().toString(), "--home", device.home.toString(), "sync");
            pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.redirectError(ProcessBuilder.Redirect.DISCARD);
            Process p = pb.start();
            long delayMs = 50 + random.nextInt((int) delayMaxMs);
            if (p.waitFor(delayMs, TimeUnit.MILLISECONDS)) {
                delayMaxMs = Math.max(100, delayMaxMs * 0.8);
            } else {
                p.destroyForcibly(); // SIGKILL
                p.waitFor();
                kills++;
                delayMaxMs = Math.min(5000, delayMaxMs * 1.1);
            }
        }
        assertTrue(
                kills >= KILLS,
                "seed " + seed + ": only " + kills + " of " + rounds + " rounds killed sync while it ran");
        Outpost.Result last = device.run("sync");
        assertEquals(0, last.exit(), "seed " + seed + ": final sync failed: " + last.err());
        assertEquals(0, TestJson.number(device.run("status", "--json").ok().out(), "pending"), "seed " + seed);

        List<Change> made = new ArrayList<>();
        WireCodec codec = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);
        try (SqliteDatabase db = SqliteDatabase.open(device.home.resolve(DeviceHome.DB_FILE))) {
            SqliteChangeLog store = new SqliteChangeLog(db);
            db.inTransaction(() -> {
                for (ChangeLog.LoggedChange l : store.findSentAndPending()) {
                    made.add(codec.decodeChange(l.change()));
                }
                return null;
            });
        }
        Map<Change, Integer> seen = new HashMap<>();
        for (Change c : pullEverything(codec)) {
            if (c.deviceId().equals(id)) {
                seen.merge(c, 1, Integer::sum);
            }
        }
        List<Change> lost = made.stream().filter(c -> !seen.containsKey(c)).toList();
        assertTrue(
                lost.isEmpty(),
                "seed " + seed + ": " + lost.size() + " of " + made.size() + " changes never reached the service");
        assertTrue(seen.values().stream().allMatch(n -> n == 1), "seed " + seed + ": a change reached the feed twice");
        assertEquals(made.size(), seen.size(), "seed " + seed + ": the feed has changes the device never made");

        Map<String, Long> counted = new java.util.TreeMap<>();
        try (java.sql.Connection office = Service.office(dir);
                java.sql.ResultSet rs = office.createStatement()
                        .executeQuery("select id, bags_harvested from outpost_data.crop_record")) {
            while (rs.next()) {
                counted.put(rs.getString(1), rs.getLong(2));
            }
        }
        assertEquals(
                acknowledged,
                counted,
                "seed " + seed + ": the service's counters are not the sums of the acknowledged increments");
    }

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private void pushAsOther(String token, int round) throws Exception {
        WireCodec codec = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);
        var clock = new dev.outpost.model.clock.HybridClock("other-officer", System::currentTimeMillis, null);
        List<Change> changes = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            changes.add(new Change(
                    "farmer",
                    "o" + round + "-" + i,
                    "nakuru",
                    "village",
                    new dev.outpost.model.change.Op.Assign(new dev.outpost.model.change.FieldValue.Text("v")),
                    clock.now()));
        }
        post(codec, token, new SyncRequest("other-officer", 1, "other-" + round, "999999999:0", 1, changes));
    }

    private List<Change> pullEverything(WireCodec codec) throws Exception {
        String token = service.register("auditor", "nakuru");
        List<Change> all = new ArrayList<>();
        String cursor = null;
        SyncResponse r;
        do {
            r = post(codec, token, new SyncRequest("auditor", 1, null, cursor, 5000, List.of()));
            all.addAll(r.changes());
            cursor = r.cursor();
        } while (r.more());
        return all;
    }

    private SyncResponse post(WireCodec codec, String token, SyncRequest request) throws Exception {
        HttpResponse<byte[]> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(service.url + "/v1/sync"))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", WireFormat.BINARY.mediaType())
                        .header("Accept", WireFormat.BINARY.mediaType())
                        .POST(HttpRequest.BodyPublishers.ofByteArray(codec.encode(request, WireFormat.BINARY)))
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode(), new String(r.body()));
        return codec.decodeResponse(r.body(), WireFormat.BINARY);
    }
}
