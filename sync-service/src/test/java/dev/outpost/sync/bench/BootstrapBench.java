package dev.outpost.sync.bench;

import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
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

    /**
     * Writes {@code rows} farmer rows of district nakuru (name and village) straight into PostgreSQL as devices
     * would have pushed them: a row state and one feed entry per field, in transactions of 10,000 rows.
     */
    static void seed(BenchSupport bench, int rows) throws SQLException {
        int perTransaction = 10_000;
        long start = System.nanoTime();
        String url = "jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres";
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                Statement s = c.createStatement()) {
            for (int from = 1; from <= rows; from += perTransaction) {
                int to = Math.min(rows, from + perTransaction - 1);
                s.execute("insert into row_state (tbl, id, scope, state) select 'farmer', 'farmer-' || g, 'nakuru', "
                        + "'{\"fields\":{\"name\":{\"v\":\"Farmer ' || g || '\",\"c\":\"1763880000000:0:seed-' || (g % 50) || '\"},"
                        + "\"village\":{\"v\":\"Njoro\",\"c\":\"1763880000000:0:seed-' || (g % 50) || '\"}}}' "
                        + "from generate_series(" + from + ", " + to + ") g");
                s.execute("insert into change_feed (scope, device_id, tbl, row_id, change) "
                        + "select 'nakuru', 'seed-' || (g % 50), 'farmer', 'farmer-' || g, "
                        + "'[{\"table\":\"farmer\",\"id\":\"farmer-' || g || '\",\"scope\":\"nakuru\",\"field\":\"' || f "
                        + "|| '\",\"clock\":\"1763880000000:0:seed-' || (g % 50) || '\",\"op\":\"assign\",\"value\":\"' "
                        + "|| case when f = 'name' then 'Farmer ' || g else 'Njoro' end || '\"}]' "
                        + "from generate_series(" + from + ", " + to
                        + ") g, unnest(array['name', 'village']) f order by g, f");
            }
            s.execute("analyze");
        }
        System.out.printf(
                "seeded rows=%d feed_entries=%d in %.1f s%n", rows, 2L * rows, (System.nanoTime() - start) / 1e9);
    }
}
