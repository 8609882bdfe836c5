package dev.outpost.device.bench;

import dev.outpost.device.LocalApiClient;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.sync.SyncLink;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.wire.SyncResponse;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * {@code bench/run device-query [ROWS]}: one plot's crop records out of ROWS (default 1,000,000), asked through the
 * local API of the real {@code outpost run} ({@code GET /v1/rows/crop_record?plot_id=X}, and the same as SQL with
 * {@code POST /v1/query}); median and p99 latency per query, against the same query on a plain SQLite table with an
 * index on plot_id, read in-process over JDBC, as baseline. The device gets its rows as a sync brings them (pulled
 * pages, so the typed tables, row states and feed are what a real device holds); the baseline table gets the same
 * rows by batched inserts.
 */
public final class DeviceQueryBench {
    private static final int RECORDS_PER_PLOT = 10;
    private static final int CHANGES_PER_PAGE = 3_000;
    private static final int WARMUP = 300;
    private static final int QUERIES = 2_000;
    private static final String[] CROPS = {"maize", "beans", "sorghum", "cassava", "millet"};

    private DeviceQueryBench() {}

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int plots = rows / RECORDS_PER_PLOT;
        Path dir = Files.createTempDirectory("outpost-device-query");
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "bench-device", "opd_bench", null, List.of("nakuru"));
        long t0 = System.nanoTime();
        try (OutpostDevice device = OutpostDevice.open(home)) {
            device.sync(() -> new Pages(rows));
        }
        System.out.printf("device filled: %d crop records on %d plots in %.1f s%n", rows, plots, seconds(t0));
        Path raw = dir.resolve("raw.db");
        fillBaseline(raw, rows);

        Random random = new Random(42);
        double[] list;
        double[] sql;
        Process run = new ProcessBuilder(
                        Path.of("device-runtime/target/outpost")
                                .toAbsolutePath()
                                .toString(),
                        "--home",
                        home.toString(),
                        "run",
                        "--port",
                        "0",
                        "--interval",
                        "3600")
                .redirectErrorStream(true)
                .start();
        try {
            BufferedReader out =
                    new BufferedReader(new InputStreamReader(run.getInputStream(), StandardCharsets.UTF_8));
            String banner = out.readLine();
            if (banner == null || !banner.contains("127.0.0.1:")) {
                throw new IllegalStateException("outpost run did not start: " + banner);
            }
            // As an app calls it: with the home's token, JSON bodies declared.
            LocalApiClient api = new LocalApiClient(home, LocalApiClient.baseOf(banner));
            list = timed(random, plots, plot -> {
                HttpResponse<String> r = api.get("/v1/rows/crop_record?plot_id=p" + plot);
                return count(r, "\"id\":");
            });
            sql = timed(random, plots, plot -> {
                HttpResponse<String> r = api.send(
                        "POST",
                        "/v1/query",
                        "{\"sql\": \"select * from crop_record where plot_id = ?\", \"params\": [\"p" + plot + "\"]}");
                return count(r, "\"id\":");
            });
        } finally {
            run.destroy();
            run.waitFor();
        }
        double[] baseline;
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + raw);
                PreparedStatement ps = c.prepareStatement("select * from crop_record where plot_id = ?")) {
            baseline = timed(random, plots, plot -> {
                ps.setString(1, "p" + plot);
                int n = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rs.getString("id");
                        rs.getString("crop");
                        rs.getLong("stage");
                        n++;
                    }
                }
                return n;
            });
        }
        System.out.printf(
                "list via API: median %.3f ms p99 %.3f ms; SQL via API: median %.3f ms p99 %.3f ms; plain SQLite"
                        + " in-process: median %.3f ms p99 %.3f ms%n",
                median(list), p99(list), median(sql), p99(sql), median(baseline), p99(baseline));
        double worstMedian = Math.max(median(list), median(sql));
        System.out.printf(
                "RESULT name=device-query rows=%d median_ms=%.3f p99_ms=%.3f list_median_ms=%.3f sql_median_ms=%.3f"
                        + " baseline_median_ms=%.3f ratio=%.1f%n",
                rows,
                worstMedian,
                Math.max(p99(list), p99(sql)),
                median(list),
                median(sql),
                median(baseline),
                worstMedian / median(baseline));
    }

    @FunctionalInterface
    private interface Query {
        int run(int plot) throws Exception;
    }

    /** Latencies in ms of {@link #QUERIES} queries for random plots, after {@link #WARMUP} untimed ones. */
    private static double[] timed(Random random, int plots, Query q) throws Exception {
        for (int i = 0; i < WARMUP; i++) {
            q.run(random.nextInt(plots));
        }
        double[] ms = new double[QUERIES];
        for (int i = 0; i < QUERIES; i++) {
            long start = System.nanoTime();
            int n = q.run(random.nextInt(plots));
            ms[i] = (System.nanoTime() - start) / 1e6;
            if (n != RECORDS_PER_PLOT) {
                throw new IllegalStateException("a plot answered " + n + " records, not " + RECORDS_PER_PLOT);
            }
        }
        Arrays.sort(ms);
        return ms;
    }

    private static int count(HttpResponse<String> r, String marker) {
        if (r.statusCode() != 200) {
            throw new IllegalStateException("the local API answered " + r.statusCode() + ": " + r.body());
        }
        int n = 0;
        for (int i = r.body().indexOf(marker); i >= 0; i = r.body().indexOf(marker, i + 1)) {
            n++;
        }
        return n;
    }

    private static double median(double[] sorted) {
        return sorted[sorted.length / 2];
    }

    private static double p99(double[] sorted) {
        return sorted[(int) Math.ceil(sorted.length * 0.99) - 1];
    }

    private static double seconds(long startNs) {
        return (System.nanoTime() - startNs) / 1e9;
    }

    /** The crop record of index {@code i}: plot, crop and stage, the same on both sides. */
    private static String plot(int i) {
        return "p" + i / RECORDS_PER_PLOT;
    }

    private static void fillBaseline(Path file, int rows) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            try (Statement s = c.createStatement()) {
                s.execute("pragma journal_mode = wal");
                s.execute("create table crop_record (id text primary key, district text not null, plot_id text,"
                        + " crop text, stage integer) without rowid");
                s.execute("create index crop_record_plot_id on crop_record (plot_id)");
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("insert into crop_record values (?, 'nakuru', ?, ?, ?)")) {
                for (int i = 0; i < rows; i++) {
                    ps.setString(1, "c" + i);
                    ps.setString(2, plot(i));
                    ps.setString(3, CROPS[i % CROPS.length]);
                    ps.setLong(4, i % 6);
                    ps.addBatch();
                    if (i % 10_000 == 9_999) {
                        ps.executeBatch();
                    }
                }
                ps.executeBatch();
            }
            c.commit();
        }
    }

    /** The service's side of a bootstrap, in memory: pages of crop records (three fields each) until ROWS. */
    private static final class Pages implements SyncLink {
        private final int rows;
        private final long wallMs = System.currentTimeMillis() - 60_000;

        Pages(int rows) {
            this.rows = rows;
        }

        @Override
        public Reply exchange(dev.outpost.model.wire.SyncRequest request) {
            int from = request.cursor() == null ? 0 : Integer.parseInt(request.cursor());
            int to = Math.min(rows, from + CHANGES_PER_PAGE / 3);
            List<Change> changes = new ArrayList<>(3 * (to - from));
            for (int i = from; i < to; i++) {
                Hlc clock = new Hlc(wallMs, i % 60_000, "office");
                String id = "c" + i;
                changes.add(assign(id, "plot_id", new FieldValue.Text(plot(i)), clock));
                changes.add(assign(id, "crop", new FieldValue.Text(CROPS[i % CROPS.length]), clock));
                changes.add(assign(id, "stage", new FieldValue.Int(i % 6), clock));
            }
            return new Reply.Accepted(new SyncResponse(
                    null, Integer.toString(to), to < rows, wallMs + 60_000, List.of(), changes, List.of()));
        }

        private static Change assign(String id, String field, FieldValue value, Hlc clock) {
            return new Change("crop_record", id, "nakuru", field, new Op.Assign(value), clock);
        }
    }
}
