package dev.outpost.sync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.wire.SyncRequest;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bench/run backoffice [ROWS]}: head office corrects every farmer of a district with one SQL {@code UPDATE}
 * of ROWS rows on the typed table {@code outpost_data.farmer}, and a tablet (the real one-file binary, which already
 * holds the district) syncs. Measured: the time from the commit to the tablet holding every corrected row, in two
 * phases (the service turning the queued rows into server changes; the tablet's {@code outpost sync}), and the
 * service's cost per changed row (CPU seconds of the service and PostgreSQL while it applies them).
 *
 * <p>Baseline, in the same run: the same number of field changes made by another device instead, pushed through
 * {@code POST /v1/sync} in the device's batches of 500, and the same tablet's sync. {@code ratio} is the SQL path's
 * total time over the baseline's: what a back-office correction costs next to the same correction made in the field.
 */
public final class BackofficeBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PUSH_BATCH = 500;

    private BackofficeBench() {}

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        Path outpost = Path.of("../device-runtime/target/outpost").toAbsolutePath();
        Path work = Files.createDirectories(Path.of("target/bench"));
        Path home = Files.createTempDirectory("outpost-backoffice").resolve("d");
        BenchSupport bench = BenchSupport.start(work.resolve("backoffice-service.log"), "-XX:+UseSerialGC", "-Xmx512m");
        String url = "jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres";
        try (Connection sql = DriverManager.getConnection(url, "postgres", "postgres")) {
            BootstrapBench.seed(bench, rows);
            long start = System.nanoTime();
            JsonNode rebuilt = admin(bench, "/v1/admin/data/rebuild");
            System.out.printf(
                    "typed tables rebuilt from the row states: %d rows in %.1f s%n",
                    rebuilt.path("rows").asLong(), (System.nanoTime() - start) / 1e9);
            outpost(
                    outpost,
                    home,
                    "init",
                    "--server",
                    bench.service.uri("").toString(),
                    "--device-id",
                    "tablet",
                    "--token",
                    bench.register("tablet", "nakuru"));
            outpost(outpost, home, "sync");
            requireVillage(outpost, home, "Njoro", rows);

            // Baseline: a field device pushes the same correction.
            String pusher = bench.register("office-tablet", "nakuru");
            double[] cpu0 = bench.cpuSeconds();
            long t0 = System.nanoTime();
            push(bench, pusher, rows, "Gilgil");
            long t1 = System.nanoTime();
            double[] cpu1 = bench.cpuSeconds();
            outpost(outpost, home, "sync");
            long t2 = System.nanoTime();
            requireVillage(outpost, home, "Gilgil", rows);
            Phase device = new Phase(t0, t1, t2, cpu0, cpu1, rows);
            System.out.printf(
                    "baseline (a device pushes %d changes): apply %.1f s, tablet sync %.1f s, service %.1f us/row%n",
                    rows, device.applySeconds(), device.pullSeconds(), device.microsPerRow());

            // The back office: one UPDATE, committed.
            try (Statement s = sql.createStatement()) {
                long u0 = System.nanoTime();
                int updated = s.executeUpdate("update outpost_data.farmer set village = 'Rongai'");
                double updateSeconds = (System.nanoTime() - u0) / 1e9;
                if (updated != rows) {
                    throw new IllegalStateException("UPDATE changed " + updated + " rows, expected " + rows);
                }
                double[] cpu2 = bench.cpuSeconds();
                long t3 = System.nanoTime();
                awaitQueueEmpty(s);
                long t4 = System.nanoTime();
                double[] cpu3 = bench.cpuSeconds();
                outpost(outpost, home, "sync");
                long t5 = System.nanoTime();
                requireVillage(outpost, home, "Rongai", rows);
                Phase office = new Phase(t3, t4, t5, cpu2, cpu3, rows);
                // What the triggers add to the writer's statement: the same UPDATE as the service's own write
                // (the triggers pass it by), rolled back.
                sql.setAutoCommit(false);
                s.execute("select set_config('outpost.applying', 'on', true)");
                long p0 = System.nanoTime();
                s.executeUpdate("update outpost_data.farmer set village = 'Naivasha'");
                double plainSeconds = (System.nanoTime() - p0) / 1e9;
                sql.rollback();
                sql.setAutoCommit(true);
                double[] single = singleRowLatencies(s, 21);
                System.out.printf(
                        "back office (one UPDATE of %d rows, %.2f s to commit with the triggers, %.2f s without):"
                                + " apply %.1f s, tablet sync %.1f s, service %.1f us/row%n",
                        rows,
                        updateSeconds,
                        plainSeconds,
                        office.applySeconds(),
                        office.pullSeconds(),
                        office.microsPerRow());
                System.out.printf(
                        "one-row UPDATE, commit to applied and in the feed: median %.0f ms, max %.0f ms (%d runs)%n",
                        single[single.length / 2], single[single.length - 1], single.length);
                System.out.printf(
                        "RESULT name=backoffice rows=%d update_s=%.2f plain_update_s=%.2f one_row_ms=%.0f"
                                + " commit_to_device_s=%.1f apply_s=%.1f"
                                + " sync_s=%.1f service_us_per_row=%.1f baseline_s=%.1f"
                                + " baseline_service_us_per_row=%.1f ratio=%.2f%n",
                        rows,
                        updateSeconds,
                        plainSeconds,
                        single[single.length / 2],
                        office.totalSeconds(),
                        office.applySeconds(),
                        office.pullSeconds(),
                        office.microsPerRow(),
                        device.totalSeconds(),
                        device.microsPerRow(),
                        office.totalSeconds() / device.totalSeconds());
            }
        } finally {
            bench.stop();
        }
    }

    /** One correction's way to the tablet: start, changes merged at the service, tablet holds them; service CPU. */
    private record Phase(long start, long applied, long held, double[] cpuStart, double[] cpuApplied, int rows) {
        double applySeconds() {
            return (applied - start) / 1e9;
        }

        double pullSeconds() {
            return (held - applied) / 1e9;
        }

        double totalSeconds() {
            return (held - start) / 1e9;
        }

        /** Service and PostgreSQL CPU while the changes were applied, per changed row. */
        double microsPerRow() {
            double cpu = (cpuApplied[0] - cpuStart[0]) + (cpuApplied[1] - cpuStart[1]);
            return cpu * 1e6 / rows;
        }
    }

    /** Pushes {@code village = value} for farmer-1..rows as one device's batches of {@link #PUSH_BATCH} changes. */
    private static void push(BenchSupport bench, String token, int rows, String value)
            throws IOException, InterruptedException {
        long now = System.currentTimeMillis();
        for (int from = 1; from <= rows; from += PUSH_BATCH) {
            List<Change> changes = new ArrayList<>();
            for (int row = from; row < Math.min(rows + 1, from + PUSH_BATCH); row++) {
                changes.add(new Change(
                        "farmer",
                        "farmer-" + row,
                        "nakuru",
                        "village",
                        new Op.Assign(new FieldValue.Text(value)),
                        new Hlc(now + row / 1000, row % 1000, "office-tablet")));
            }
            bench.sync(token, new SyncRequest("office-tablet", 1, "office-b" + from, null, 1, changes));
        }
    }

    /**
     * A correction of one row, as a person makes it in psql: the milliseconds from each UPDATE's commit to the service
     * having applied it (a device's next sync gets it), sorted.
     */
    private static double[] singleRowLatencies(Statement s, int runs) throws SQLException, InterruptedException {
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            // A person commits at any moment of the service's poll, not in step with it.
            Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextLong(250));
            s.executeUpdate(
                    "update outpost_data.farmer set name = 'Corrected " + i + "' where id = 'farmer-" + (i + 1) + "'");
            long committed = System.nanoTime();
            awaitQueueEmpty(s);
            ms[i] = (System.nanoTime() - committed) / 1e6;
        }
        java.util.Arrays.sort(ms);
        return ms;
    }

    /** Waits until the service has applied every queued SQL write (a refused one fails the benchmark). */
    private static void awaitQueueEmpty(Statement s) throws SQLException, InterruptedException {
        while (true) {
            try (ResultSet r = s.executeQuery(
                    "select count(*) filter (where refused is null), count(*) filter (where refused is not null)"
                            + " from data_write")) {
                r.next();
                if (r.getLong(2) > 0) {
                    throw new IllegalStateException(r.getLong(2) + " SQL writes were refused");
                }
                if (r.getLong(1) == 0) {
                    return;
                }
            }
            Thread.sleep(5); // polling the queue, not timing: the poll interval bounds the figure's resolution
        }
    }

    /** Fails unless the tablet's typed table holds {@code rows} farmers of that village. */
    private static void requireVillage(Path outpost, Path home, String village, int rows) throws Exception {
        String out = outpost(outpost, home, "query", "select count(*) as n from farmer where village = ?", village);
        long n = JSON.readTree(out.lines().findFirst().orElse("{}")).path("n").asLong(-1);
        if (n != rows) {
            throw new IllegalStateException("the tablet holds " + n + " farmers of " + village + ", expected " + rows);
        }
    }

    private static JsonNode admin(BenchSupport bench, String path) throws IOException, InterruptedException {
        HttpResponse<String> r = bench.http.send(
                HttpRequest.newBuilder(bench.service.uri(path))
                        .header("Authorization", "Bearer " + BenchSupport.ADMIN)
                        .POST(HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException(path + " answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    private static String outpost(Path outpost, Path home, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(outpost.toString(), "--home", home.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("outpost " + args[0] + " failed (exit " + p.exitValue() + "): " + out);
        }
        return out;
    }
}
