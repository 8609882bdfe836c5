package dev.outpost.device.bench;

import dev.outpost.device.OutpostDevice;
import dev.outpost.device.home.DatabaseKeySource;
import dev.outpost.device.http.LinkPolicy;
import dev.outpost.device.model.ModelTrust;
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
 * so that a change in the disk's sync latency during the run (large on these shared machines) falls on both. A third
 * side writes the same through a device whose database is encrypted ({@code outpost init --db-key-file}): its rate
 * and the cost of encryption against the plain device are reported beside the ratio.
 */
public final class LocalWritesBench {
    private static final int ROUNDS = 10;
    private static final int WARMUP = 2_000;

    private LocalWritesBench() {}

    public static void main(String[] args) throws Exception {
        int writes = args.length > 0 ? Integer.parseInt(args[0]) : 3_000;
        int perRound = Math.max(1, writes / ROUNDS);
        Path dir = Files.createTempDirectory("outpost-local-writes");
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "bench-device", "opd_bench", null, List.of("nakuru"));
        Path key = dir.resolve("db.key");
        Files.writeString(key, "local-writes benchmark key\n");
        Path encryptedHome = dir.resolve("encrypted");
        OutpostDevice.init(
                encryptedHome,
                "http://127.0.0.1:9",
                "bench-encrypted",
                "opd_bench",
                null,
                List.of("nakuru"),
                ModelTrust.NONE,
                LinkPolicy.DEFAULT,
                DatabaseKeySource.file(key));
        try (OutpostDevice device = OutpostDevice.open(home);
                OutpostDevice encrypted = OutpostDevice.open(encryptedHome);
                Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("raw.db"))) {
            try (Statement s = c.createStatement()) {
                s.execute("pragma journal_mode = wal");
                s.execute("pragma synchronous = full");
                s.execute("create table t (id integer primary key, tbl text, row_id text, payload text)");
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("insert into t (tbl, row_id, payload) values (?, ?, ?)")) {
                // Warm-up, untimed: 2,000 writes a side, so both are measured compiled (the device library runs
                // for days in `outpost run`); with 300, a fifth of our side's timed writes ran before the JIT had
                // compiled them, and the raw side, a few JDBC calls, has next to nothing to compile.
                for (int i = 0; i < WARMUP; i++) {
                    write(device, "w", i);
                    write(encrypted, "w", i);
                    raw(c, ps, "w" + i, "{\"name\":\"warm\"}");
                }
                long oursNs = 0;
                long encryptedNs = 0;
                long rawNs = 0;
                int done = 0;
                for (int round = 0; round < ROUNDS; round++) {
                    long start = System.nanoTime();
                    for (int i = done; i < done + perRound; i++) {
                        write(device, "", i);
                    }
                    long middle = System.nanoTime();
                    for (int i = done; i < done + perRound; i++) {
                        raw(c, ps, "f" + (i % 500), "{\"name\":\"Farmer " + i + "\"}");
                    }
                    long third = System.nanoTime();
                    for (int i = done; i < done + perRound; i++) {
                        write(encrypted, "", i);
                    }
                    encryptedNs += System.nanoTime() - third;
                    rawNs += third - middle;
                    oursNs += middle - start;
                    done += perRound;
                }
                double ours = done / (oursNs / 1e9);
                double raw = done / (rawNs / 1e9);
                double enc = done / (encryptedNs / 1e9);
                System.out.printf(
                        "writes=%d per side in %d alternating rounds (each its own transaction; WAL, synchronous=FULL)%n",
                        done, ROUNDS);
                System.out.printf(
                        "RESULT name=local-writes writes_per_s=%.0f baseline_per_s=%.0f encrypted_writes_per_s=%.0f"
                                + " encrypted_ratio=%.3f ratio=%.3f%n",
                        ours, raw, enc, enc / ours, ours / raw);
            }
        }
    }

    /**
     * Write {@code i}: a put of two fields, a put on another table, a counter increment or a set edit, in turn, on
     * 500 rows a table whose ids start with {@code prefix} (the warm-up writes rows of its own).
     */
    private static void write(OutpostDevice device, String prefix, int i) {
        String farmer = prefix + "f" + (i % 500);
        String crop = prefix + "c" + (i % 500);
        switch (i % 4) {
            case 0 -> device.rows().put("farmer", farmer, Map.of("name", "Farmer " + i, "village", "Njoro"));
            case 1 ->
                device.rows().put("crop_record", crop, Map.of("stage", Integer.toString(i % 9), "notes", "note " + i));
            case 2 -> device.rows().add("crop_record", crop, "bags_harvested", 1);
            default -> device.rows().tag("crop_record", crop, "pests", List.of("+pest" + (i % 7)));
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
