package dev.outpost.device.bench;

import dev.outpost.device.OutpostDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

/**
 * {@code bench/run local-writes}: field writes per second through the device library (each write its own SQLite
 * transaction: row merge, change log entry, clock), against raw SQLite inserts of one row per transaction with the
 * same durability settings (WAL, synchronous=FULL), in the same run and folder.
 */
public final class LocalWritesBench {
    private LocalWritesBench() {}

    public static void main(String[] args) throws Exception {
        int writes = args.length > 0 ? Integer.parseInt(args[0]) : 3_000;
        Path dir = Files.createTempDirectory("outpost-local-writes");
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "bench-device", "opd_bench", null, List.of("nakuru"));
        try (OutpostDevice device = OutpostDevice.open(home)) {
            for (int i = 0; i < 300; i++) { // warm-up
                device.put("farmer", "w" + i, Map.of("name", "warm " + i));
            }
            long start = System.nanoTime();
            for (int i = 0; i < writes; i++) {
                switch (i % 4) {
                    case 0 -> device.put("farmer", "f" + (i % 500), Map.of("name", "Farmer " + i, "village", "Njoro"));
                    case 1 ->
                        device.put(
                                "crop_record",
                                "c" + (i % 500),
                                Map.of("stage", Integer.toString(i % 9), "notes", "note " + i));
                    case 2 -> device.add("crop_record", "c" + (i % 500), "bags_harvested", 1);
                    default -> device.tag("crop_record", "c" + (i % 500), "pests", List.of("+pest" + (i % 7)));
                }
            }
            double ours = writes / ((System.nanoTime() - start) / 1e9);

            double raw;
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("raw.db"))) {
                try (Statement s = c.createStatement()) {
                    s.execute("pragma journal_mode = wal");
                    s.execute("pragma synchronous = full");
                    s.execute("create table t (id integer primary key, tbl text, row_id text, payload text)");
                }
                c.setAutoCommit(false);
                try (PreparedStatement ps =
                        c.prepareStatement("insert into t (tbl, row_id, payload) values (?, ?, ?)")) {
                    for (int i = 0; i < 300; i++) {
                        ps.setString(1, "farmer");
                        ps.setString(2, "w" + i);
                        ps.setString(3, "{\"name\":\"warm\"}");
                        ps.executeUpdate();
                        c.commit();
                    }
                    long rawStart = System.nanoTime();
                    for (int i = 0; i < writes; i++) {
                        ps.setString(1, "farmer");
                        ps.setString(2, "f" + (i % 500));
                        ps.setString(3, "{\"name\":\"Farmer " + i + "\"}");
                        ps.executeUpdate();
                        c.commit();
                    }
                    raw = writes / ((System.nanoTime() - rawStart) / 1e9);
                }
            }
            System.out.printf("writes=%d (each its own transaction; WAL, synchronous=FULL)%n", writes);
            System.out.printf(
                    "RESULT name=local-writes writes_per_s=%.0f baseline_per_s=%.0f ratio=%.3f%n",
                    ours, raw, ours / raw);
        }
    }
}
