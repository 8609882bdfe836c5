package dev.outpost.device.bench;

import dev.outpost.device.OutpostDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

/**
 * {@code bench/run local-writes}: field writes per second through the device library (each write its own SQLite
 * transaction: row merge, change log entry, clock), against raw SQLite inserts of one row per transaction with the
 * same durability settings (WAL, synchronous=FULL), in the same run and folder. The two sides take turns in rounds,
 * so that a change in the disk's sync latency during the run (large on these shared machines) falls on both.
 */
public final class LocalWritesBench {
    private static final int ROUNDS = 10;

    private LocalWritesBench() {}

    public static void main(String[] args) throws Exception {
        int writes = args.length > 0 ? Integer.parseInt(args[0]) : 3_000;
        int perRound = Math.max(1, writes / ROUNDS);
        Path dir = Files.createTempDirectory("outpost-local-writes");
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "bench-device", "opd_bench", null, List.of("nakuru"));
        try (OutpostDevice device = OutpostDevice.open(home);
                Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("raw.db"))) {
            try (Statement s = c.createStatement()) {
                s.execute("pragma journal_mode = wal");
                s.execute("pragma synchronous = full");
                s.execute("create table t (id integer primary key, tbl text, row_id text, payload text)");
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("insert into t (tbl, row_id, payload) values (?, ?, ?)")) {
                for (int i = 0; i < 300; i++) { // warm-up
                    device.rows().put("farmer", "w" + i, Map.of("name", "warm " + i));
                    raw(c, ps, "w" + i, "{\"name\":\"warm\"}");
                }
                long oursNs = 0;
                long rawNs = 0;
                int done = 0;
                for (int round = 0; round < ROUNDS; round++) {
                    long start = System.nanoTime();
                    for (int i = done; i < done + perRound; i++) {
                        switch (i % 4) {
                            case 0 ->
                                device.rows()
                                        .put(
                                                "farmer",
                                                "f" + (i % 500),
                                                Map.of("name", "Farmer " + i, "village", "Njoro"));
                            case 1 ->
                                device.rows()
                                        .put(
                                                "crop_record",
                                                "c" + (i % 500),
                                                Map.of("stage", Integer.toString(i % 9), "notes", "note " + i));
                            case 2 -> device.rows().add("crop_record", "c" + (i % 500), "bags_harvested", 1);
                            default ->
                                device.rows().tag("crop_record", "c" + (i % 500), "pests", List.of("+pest" + (i % 7)));
                        }
                    }
                    long middle = System.nanoTime();
                    for (int i = done; i < done + perRound; i++) {
                        raw(c, ps, "f" + (i % 500), "{\"name\":\"Farmer " + i + "\"}");
                    }
                    rawNs += System.nanoTime() - middle;
                    oursNs += middle - start;
                    done += perRound;
                }
                double ours = done / (oursNs / 1e9);
                double raw = done / (rawNs / 1e9);
                System.out.printf(
                        "writes=%d per side in %d alternating rounds (each its own transaction; WAL, synchronous=FULL)%n",
                        done, ROUNDS);
                System.out.printf(
                        "RESULT name=local-writes writes_per_s=%.0f baseline_per_s=%.0f ratio=%.3f%n",
                        ours, raw, ours / raw);
            }
        }
    }

    private static void raw(Connection c, PreparedStatement ps, String rowId, String payload) throws SQLException {
        ps.setString(1, "farmer");
        ps.setString(2, rowId);
        ps.setString(3, payload);
        ps.executeUpdate();
        c.commit();
    }
}
