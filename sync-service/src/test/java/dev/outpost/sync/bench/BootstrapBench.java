package dev.outpost.sync.bench;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bench/run bootstrap}: a fresh device pulls a district of ROWS farm rows (two fields each, as written by
 * other devices in transactions of 10,000 rows) page by page through {@code POST /v1/sync}; prints rows per second
 * served and the service's peak RSS.
 */
public final class BootstrapBench {
    private BootstrapBench() {}

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int pageSize = 5_000;
        Path work = Files.createDirectories(Path.of("target/bench"));
        BenchSupport bench = BenchSupport.start(work.resolve("bootstrap-service.log"), "-XX:+UseSerialGC", "-Xmx512m");
        try {
            seed(bench, rows);
            String token = bench.register("fresh-tablet", "nakuru");
            String cursor = null;
            long changes = 0;
            int pages = 0;
            long start = System.nanoTime();
            SyncResponse page;
            do {
                page = bench.sync(token, new SyncRequest("fresh-tablet", 1, null, cursor, pageSize, List.of()));
                cursor = page.cursor();
                changes += page.changes().size();
                pages++;
            } while (page.more());
            double seconds = (System.nanoTime() - start) / 1e9;
            if (changes != 2L * rows) {
                throw new IllegalStateException("pulled " + changes + " changes, expected " + 2L * rows);
            }
            System.out.printf("pages=%d changes=%d seconds=%.1f%n", pages, changes, seconds);
            System.out.printf(
                    "RESULT name=bootstrap rows=%d rows_per_s=%.0f changes_per_s=%.0f peak_rss_mb=%.0f%n",
                    rows, rows / seconds, changes / seconds, bench.service.peakRssMb());
        } finally {
            bench.stop();
        }
    }

    /** Farm rows per feed entry: a device pushing batches of 500 changes (two a row) writes entries this size. */
    private static final int ROWS_PER_ENTRY = 250;

    /**
     * Writes {@code rows} farmer rows of district nakuru (name and village) straight into PostgreSQL as devices
     * would have pushed them: a row state per row and one feed entry per batch of 500 changes (one device's push), in
     * transactions of 10,000 rows.
     */
    static void seed(BenchSupport bench, int rows) throws SQLException {
        int perTransaction = 10_000;
        long start = System.nanoTime();
        long entries = 0;
        String url = "jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres";
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                Statement s = c.createStatement();
                PreparedStatement feed = c.prepareStatement(
                        "insert into change_feed (scope, device_id, changes, n) values (?, ?, ?, ?)")) {
            c.setAutoCommit(false);
            for (int from = 1; from <= rows; from += perTransaction) {
                int to = Math.min(rows, from + perTransaction - 1);
                String device = "'seed-' || ((g - 1) / " + ROWS_PER_ENTRY + " % 50)";
                // Row states in the JSON form (which the service still reads), as rows written before V9 are.
                s.execute("insert into row_state (tbl, id, scope, state) select 'farmer', 'farmer-' || g, 'nakuru', "
                        + "convert_to('{\"fields\":{\"name\":{\"v\":\"Farmer ' || g || '\",\"c\":\"" + SEED_MS
                        + ":0:' || "
                        + device
                        + " || '\"},\"village\":{\"v\":\"Njoro\",\"c\":\"" + SEED_MS + ":0:' || " + device
                        + " || '\"}}}', 'UTF8') from generate_series(" + from + ", " + to + ") g");
                for (int g = from; g <= to; g += ROWS_PER_ENTRY) {
                    String deviceId = "seed-" + ((g - 1) / ROWS_PER_ENTRY % 50);
                    List<Change> changes = new ArrayList<>();
                    for (int row = g; row < Math.min(to + 1, g + ROWS_PER_ENTRY); row++) {
                        Hlc clock = new Hlc(SEED_MS, 0, deviceId);
                        changes.add(change(row, "name", "Farmer " + row, clock));
                        changes.add(change(row, "village", "Njoro", clock));
                    }
                    feed.setString(1, "nakuru");
                    feed.setString(2, deviceId);
                    feed.setBytes(3, BenchSupport.CODEC.encodeStored(changes));
                    feed.setInt(4, changes.size());
                    feed.addBatch();
                    entries++;
                }
                feed.executeBatch();
                c.commit();
            }
            c.setAutoCommit(true);
            s.execute("analyze");
        }
        System.out.printf(
                "seeded rows=%d feed_changes=%d feed_entries=%d in %.1f s%n",
                rows, 2L * rows, entries, (System.nanoTime() - start) / 1e9);
    }

    private static final long SEED_MS = 1_763_880_000_000L;

    private static Change change(int row, String field, String value, Hlc clock) {
        return new Change("farmer", "farmer-" + row, "nakuru", field, new Op.Assign(new FieldValue.Text(value)), clock);
    }
}
