package dev.outpost.device.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.rows.RefusedChange;
import dev.outpost.device.rows.RowStates;
import dev.outpost.device.sqlite.SqliteChangeFeed;
import dev.outpost.device.sqlite.SqliteChangeLog;
import dev.outpost.device.sqlite.SqliteDatabase;
import dev.outpost.device.sqlite.SqliteRows;
import dev.outpost.device.sqlite.SqliteTypedTables;
import dev.outpost.device.store.ChangeFeed;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.device.store.RowStore;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireLimits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device's sync client over an in-memory server that loses answers, fails, refuses batches whole (409, 413, 426),
 * refuses some changes (a scope the server no longer grants, clocks too far ahead), acknowledges other batches and
 * cuts and shuffles pages, against a real SQLite home. Per seed: rounds of local writes, another device's writes and a
 * faulty sync, then syncs without faults. Then the device and the server hold identical rows, every change the device
 * made was accepted exactly once or is listed as refused, and discarding the refused ones leaves nothing of them.
 * Seeds run from 1; {@code -Doutpost.sync.seed=N} replays one.
 */
class SyncRoundIT {
    private static final int SEEDS = Integer.getInteger("outpost.sync.seeds", 300);
    private static final int ROUNDS = 10;
    private static final Schema SCHEMA = SchemaLoader.farmExample();
    private static final WireCodec CODEC = new WireCodec(SCHEMA, WireLimits.DEFAULT);

    @TempDir
    Path dir;

    @Test
    void everySeedEndsWithDeviceAndServerAgreeingAndNothingLostOrDoubled() {
        Long one = Long.getLong("outpost.sync.seed");
        int syncs = 0;
        for (long seed = one != null ? one : 1; seed <= (one != null ? one : SEEDS); seed++) {
            try {
                syncs += runSeed(seed);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("seed " + seed + " (replay: -Doutpost.sync.seed=" + seed + "): " + e, e);
            }
        }
        assertTrue(syncs >= ROUNDS * (one != null ? 1 : SEEDS), "syncs run: " + syncs);
    }

    /** Returns the number of syncs run. */
    private int runSeed(long seed) {
        Random random = new Random(seed);
        Path home = dir.resolve("seed-" + seed);
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru", "molo"));
        AtomicLong wall = new AtomicLong(1_800_000_000_000L);
        // Some seeds run the device's clock five minutes ahead of the server's: its changes get re-stamped.
        long ahead = random.nextInt(4) == 0 ? 300_000 : 0;
        FakeSyncServer server = new FakeSyncServer(SCHEMA, Set.of("nakuru"), wall::get, seed);
        HybridClock other = new HybridClock("d2", wall::get, null);
        int syncs = 0;
        try (OutpostDevice device = OutpostDevice.open(home, () -> wall.get() + ahead)) {
            for (int round = 0; round < ROUNDS; round++) {
                wall.addAndGet(1 + random.nextInt(5_000));
                write(device, random);
                server.pushAs("d2", otherDevice(server, other, random));
                server.faults = true;
                server.batchChangesMax = random.nextBoolean() ? 2 + random.nextInt(20) : Integer.MAX_VALUE;
                syncs += syncExpectingFaults(device, server);
            }
            server.faults = false;
            for (int i = 0; i < 3; i++) { // the first may still re-stamp or set aside; nothing is left after that
                syncs++;
                try {
                    device.syncClient(server).sync();
                } catch (SyncRefused refused) {
                    // listed below
                }
            }
            assertEquals(0, device.status().pending(), "pending after syncs without faults");
            List<RefusedChange> refused = device.rows().refused();
            for (RefusedChange r : refused) {
                assertEquals("molo", r.change().scope(), "only changes in the scope the server refuses: " + r);
            }
            checkEveryChangeAcceptedOnceOrRefused(home, server, refused);
            for (RefusedChange r : refused) {
                device.rows().discard(r.seq());
            }
            assertTrue(device.rows().refused().isEmpty());
        }
        assertEquals(server.rows(), deviceRows(home), "rows on the device and the server");
        return syncs;
    }

    private static int syncExpectingFaults(OutpostDevice device, FakeSyncServer server) {
        try {
            device.syncClient(server).sync();
        } catch (SyncRefused refused) {
            // changes set aside: the rest synced
        } catch (DeviceException e) {
            if (e.exitCode() != ExitCode.UNREACHABLE && e.exitCode() != ExitCode.REFUSED) {
                fail("a sync over a faulty link failed with exit " + e.exitCode() + ": " + e.getMessage(), e);
            }
        }
        return 1;
    }

    private static void write(OutpostDevice device, Random random) {
        for (int i = 0, n = random.nextInt(12); i < n; i++) {
            String scope = random.nextInt(6) == 0 ? "molo" : "nakuru";
            String farmer = scope + "-f" + random.nextInt(6);
            String crop = scope + "-c" + random.nextInt(6);
            try {
                switch (random.nextInt(6)) {
                    case 0, 1 ->
                        device.rows()
                                .put(
                                        "farmer",
                                        farmer,
                                        Map.of("name", "name " + random.nextInt(100), "district", scope));
                    case 2 ->
                        device.rows()
                                .put("crop_record", crop, Map.of("stage", "" + random.nextInt(9), "district", scope));
                    case 3 -> device.rows().add("crop_record", crop, "bags_harvested", 1 + random.nextInt(4));
                    case 4 ->
                        device.rows()
                                .tag(
                                        "crop_record",
                                        crop,
                                        "pests",
                                        List.of("+p" + random.nextInt(4), "-p" + random.nextInt(4)));
                    default -> device.rows().delete("farmer", farmer);
                }
            } catch (DeviceException e) {
                // a row not there yet, or deleted: bad input, nothing written
                assertEquals(ExitCode.BAD_INPUT, e.exitCode(), e.getMessage());
            }
        }
    }

    /** Another device's writes to the same rows (in the scope the server grants), as the server holds them. */
    private static List<Change> otherDevice(FakeSyncServer server, HybridClock clock, Random random) {
        List<Change> out = new ArrayList<>();
        Map<String, RowState> rows = new HashMap<>(server.rows());
        for (int i = 0, n = random.nextInt(8); i < n; i++) {
            boolean farmer = random.nextBoolean();
            String table = farmer ? "farmer" : "crop_record";
            String id = (farmer ? "nakuru-f" : "nakuru-c") + random.nextInt(6);
            RowState row = rows.getOrDefault(table + "/" + id, RowState.empty(table, id, "nakuru"));
            Change c = farmer
                    ? LocalWrites.assign(row, "village", new FieldValue.Text("v" + random.nextInt(5)), clock.now())
                    : LocalWrites.increment(row, "bags_harvested", 1 + random.nextInt(3), clock.now());
            rows.put(
                    table + "/" + id,
                    dev.outpost.model.merge.RowMerge.apply(SCHEMA.table(table), row, c)
                            .row());
            out.add(c);
        }
        return out;
    }

    /** Each change the device's log holds as sent was accepted once; nothing was accepted that the log lacks. */
    private static void checkEveryChangeAcceptedOnceOrRefused(
            Path home, FakeSyncServer server, List<RefusedChange> refused) {
        List<Change> sent = new ArrayList<>();
        try (SqliteDatabase db = SqliteDatabase.open(home.resolve(DeviceHome.DB_FILE))) {
            SqliteChangeLog log = new SqliteChangeLog(db);
            db.run(() -> {
                for (ChangeLog.LoggedChange l : log.findSentAndPending()) {
                    assertEquals(ChangeLog.SENT, l.status(), "seq " + l.seq());
                    sent.add(CODEC.decodeChange(l.change()));
                }
            });
        }
        List<Change> accepted = server.accepted.getOrDefault("d1", List.of());
        assertEquals(sent, accepted, "the device's sent changes, in order, are what the server accepted once each");
        for (RefusedChange r : refused) {
            assertTrue(!accepted.contains(r.change()), "a refused change was also accepted: " + r);
        }
    }

    /** The device's stored rows, as the server keys them (absent rows are not listed). */
    private static Map<String, RowState> deviceRows(Path home) {
        Map<String, RowState> out = new TreeMap<>();
        try (SqliteDatabase db = SqliteDatabase.open(home.resolve(DeviceHome.DB_FILE))) {
            SqliteRows rows = new SqliteRows(db);
            RowStates states = new RowStates(
                    SCHEMA,
                    rows,
                    new SqliteTypedTables(db, SCHEMA.scopeColumn()),
                    new SqliteChangeFeed(db),
                    ChangeFeed.Origin.SYNC);
            db.run(() -> {
                for (String table : SCHEMA.tables().keySet()) {
                    for (RowStore.StoredRow s : rows.findRows(table, true)) {
                        out.put(table + "/" + s.id(), states.get(table, s.id()).orElseThrow());
                    }
                }
            });
        }
        return out;
    }
}
