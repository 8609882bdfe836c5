package dev.outpost.sync.bench;

import dev.outpost.model.bench.FarmDay;
import dev.outpost.model.change.Change;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.sync.store.DataTables;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code bench/run ingest}: field changes per second through {@code POST /v1/sync} (binary, batches of 500, several
 * devices at once; a mix of new rows and merges into existing ones), against a raw batched INSERT of the same
 * change rows into the same PostgreSQL from as many connections, in the same run.
 */
public final class IngestBench {
    private static final int WARMUP_ROUNDS = Integer.getInteger("outpost.bench.warmup-rounds", 6);
    private static final int ROUNDS = Integer.getInteger("outpost.bench.rounds", 5);

    /** The baseline's typed tables: the same layout as the service's, in a schema of their own. */
    private static final DataTables RAW_TYPED = new DataTables("bench_raw", SchemaLoader.farmExample());

    private IngestBench() {}

    public static void main(String[] args) throws Exception {
        int devices = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int editsPerDevice = args.length > 1 ? Integer.parseInt(args[1]) : 12_000;
        int batchMax = 500;
        Schema schema = SchemaLoader.farmExample();
        Path work = Files.createDirectories(Path.of("target/bench"));
        BenchSupport bench = BenchSupport.start(work.resolve("ingest-service.log"), "-XX:+UseParallelGC", "-Xmx1g");
        try {
            // Warm-up: rounds of as many other devices pushing a day each, concurrently (JIT, connection pools,
            // prepared statements), so the measured run sees the service in its steady state, as a long-running
            // server is. With one round of half a day, C2 was still compiling through the measured run: a fifth of
            // a core of the service's CPU went to the compiler then.
            ExecutorService pool = Executors.newFixedThreadPool(devices);
            List<Device> warm = List.of();
            for (int round = 0; round < WARMUP_ROUNDS; round++) {
                warm = devices(
                        id -> bench.register(id, FarmDay.DISTRICT),
                        schema,
                        "bench-warmup" + round + "-",
                        2000 + 100 * round,
                        devices,
                        editsPerDevice,
                        batchMax);
                pushAll(bench, warm, pool);
            }
            String url = "jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres";
            try (Connection c = DriverManager.getConnection(url, "postgres", "postgres")) {
                c.createStatement()
                        .execute(
                                "create table bench_change_rows (pos bigint generated always as identity primary key, "
                                        + "scope text, device_id text, tbl text, row_id text, field text, clock text, change text)");
                for (String ddl : RAW_TYPED.ddl()) {
                    c.createStatement().execute(ddl);
                }
            }
            // The baseline's warm-up (the driver's JIT, PostgreSQL's caches), as the service had its own: the last
            // warm-up round's changes, inserted untimed.
            insertAll(url, columns(warm), pool);

            // Rounds: the service, then the baseline, on fresh devices' changes each time; the medians are the result
            // (two processes and a database share two cores here, so single runs scatter by +-10%).
            List<double[]> rounds = new ArrayList<>();
            long total = 0;
            for (int round = 0; round < ROUNDS; round++) {
                List<Device> measured = devices(
                        id -> bench.register(id, FarmDay.DISTRICT),
                        schema,
                        "bench-officer" + round + "-",
                        1000 + 100 * round,
                        devices,
                        editsPerDevice,
                        batchMax);
                total = measured.stream().mapToLong(Device::changes).sum();
                quiesce(url);
                statementCosts(bench, 0);
                long[] walBefore = wal(bench);
                double[] cpuBefore = bench.cpuSeconds();
                long start = System.nanoTime();
                pushAll(bench, measured, pool);
                double seconds = (System.nanoTime() - start) / 1e9;
                double[] cpuAfter = bench.cpuSeconds();
                long[] walAfter = wal(bench);
                statementCosts(bench, total);
                List<Batch> rows = columns(measured);
                quiesce(url);
                double baseline = total / insertAll(url, rows, pool);
                System.out.printf(
                        "round %d: service %.0f changes/s (cpu service=%.1f s postgres=%.1f s, wall %.1f s, wal %.0f"
                                + " bytes/change), baseline %.0f rows/s, ratio %.3f%n",
                        round,
                        total / seconds,
                        cpuAfter[0] - cpuBefore[0],
                        cpuAfter[1] - cpuBefore[1],
                        seconds,
                        (double) (walAfter[0] - walBefore[0]) / total,
                        baseline,
                        total / seconds / baseline);
                rounds.add(new double[] {total / seconds, baseline, total / seconds / baseline});
            }
            pool.shutdown();
            System.out.printf("devices=%d field_changes=%d per round, batches_of=%d%n", devices, total, batchMax);
            System.out.printf(
                    "RESULT name=ingest changes_per_s=%.0f baseline_per_s=%.0f ratio=%.3f%n",
                    median(rounds, 0), median(rounds, 1), median(rounds, 2));
        } finally {
            bench.stop();
        }
    }

    /**
     * With pg_stat_statements preloaded (see BenchSupport): {@code changes == 0} starts counting, otherwise prints
     * the statements that took PostgreSQL's time since, in microseconds per field change.
     */
    private static void statementCosts(BenchSupport bench, long changes) throws Exception {
        String url = "jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres";
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                var s = c.createStatement()) {
            var loaded = s.executeQuery("select current_setting('shared_preload_libraries')");
            loaded.next();
            if (!loaded.getString(1).contains("pg_stat_statements")) {
                return;
            }
            s.execute("create extension if not exists pg_stat_statements");
            if (changes == 0) {
                s.execute("select pg_stat_statements_reset()");
                return;
            }
            var rows = s.executeQuery(
                    "select total_exec_time, calls, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110)"
                            + " from pg_stat_statements order by total_exec_time desc limit 14");
            while (rows.next()) {
                System.out.printf(
                        "statement %6.2f us/change %7d calls %8d rows  %s%n",
                        rows.getDouble(1) * 1000 / changes, rows.getLong(2), rows.getLong(3), rows.getString(4));
            }
        }
    }

    /** PostgreSQL's WAL bytes and full-page images so far (pg_stat_wal). */
    static long[] wal(BenchSupport bench) throws Exception {
        return wal("jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres");
    }

    /** PostgreSQL's WAL bytes and full-page images so far, of the server at {@code url}. */
    static long[] wal(String url) throws Exception {
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                var s = c.createStatement();
                var r = s.executeQuery("select wal_bytes::bigint, wal_fpi from pg_stat_wal")) {
            r.next();
            return new long[] {r.getLong(1), r.getLong(2)};
        }
    }

    /**
     * A simulated device: its credential, its day's changes in batches, and those batches as binary requests, encoded
     * before anything is timed (a device encodes on its own hardware, not on the two cores the service and PostgreSQL
     * share here).
     */
    record Device(String id, String token, List<List<Change>> batches, List<byte[]> requests) {
        long changes() {
            return batches.stream().mapToLong(List::size).sum();
        }
    }

    /** Registers a device and gives its token. */
    interface Registrar {
        String register(String deviceId) throws Exception;
    }

    /** {@code count} devices with a day of {@code edits} each (seeded), registered, their batches encoded. */
    static List<Device> devices(
            Registrar registrar, Schema schema, String prefix, int seed, int count, int edits, int batchMax)
            throws Exception {
        List<Device> out = new ArrayList<>();
        for (int d = 0; d < count; d++) {
            String id = prefix + d;
            List<Change> changes = new ArrayList<>();
            new FarmDay(schema, seed + d, id).edits(edits).forEach(e -> changes.addAll(e.changes()));
            List<List<Change>> batches = new ArrayList<>();
            for (int i = 0; i < changes.size(); i += batchMax) {
                batches.add(changes.subList(i, Math.min(changes.size(), i + batchMax)));
            }
            List<byte[]> requests = new ArrayList<>();
            for (List<Change> batch : batches) {
                requests.add(BenchSupport.CODEC.encode(
                        new SyncRequest(id, 1, id + "-b" + requests.size(), null, 1, batch), WireFormat.BINARY));
            }
            out.add(new Device(id, registrar.register(id), batches, requests));
        }
        return out;
    }

    /** Every device pushes all its batches, one after another, all devices at once. */
    private static void pushAll(BenchSupport bench, List<Device> devices, ExecutorService pool) throws Exception {
        List<Future<?>> work = new ArrayList<>();
        for (Device device : devices) {
            work.add(pool.submit(() -> {
                for (byte[] request : device.requests()) {
                    bench.sync(device.token(), request);
                }
                return null;
            }));
        }
        for (Future<?> f : work) {
            f.get();
        }
    }

    /**
     * Lets PostgreSQL finish the background work the last phase left (a checkpoint, autovacuum of the rows it
     * updated), so that neither side is timed while paying for the other's writes.
     */
    static void quiesce(String url) throws Exception {
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                var s = c.createStatement()) {
            s.execute("checkpoint");
            for (int i = 0; i < 300; i++) {
                try (var r = s.executeQuery(
                        "select count(*) from pg_stat_activity where backend_type = 'autovacuum worker'")) {
                    r.next();
                    if (r.getLong(1) == 0) {
                        return;
                    }
                }
                Thread.sleep(100);
            }
        }
    }

    static double median(List<double[]> rounds, int column) {
        double[] v = rounds.stream().mapToDouble(r -> r[column]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /**
     * The baseline: the same change rows, inserted in the same batches from as many connections, with no merge at
     * all, and each batch's rows upserted into typed tables of the service's layout (the batch's own values, no
     * merge with what is stored), in one transaction a batch; every device's batches from a connection of its own,
     * all at once. The seconds it took.
     */
    private static double insertAll(String url, List<Batch> byDevice, ExecutorService pool) throws Exception {
        long start = System.nanoTime();
        List<Future<?>> work = new ArrayList<>();
        for (Batch device : byDevice) {
            work.add(pool.submit(() -> {
                try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                        PreparedStatement ps = c.prepareStatement(
                                "insert into bench_change_rows (scope, device_id, tbl, row_id, field, clock, change) "
                                        + "select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])")) {
                    c.setAutoCommit(false);
                    Map<String, PreparedStatement> typed = new LinkedHashMap<>();
                    for (int b = 0; b < device.changeColumns().size(); b++) {
                        String[][] cols = device.changeColumns().get(b);
                        for (int k = 0; k < 7; k++) {
                            Array a = c.createArrayOf("text", cols[k]);
                            ps.setArray(k + 1, a);
                        }
                        ps.execute();
                        for (var e : device.typedColumns().get(b).entrySet()) {
                            PreparedStatement up = typed.get(e.getKey());
                            if (up == null) {
                                up = c.prepareStatement(
                                        RAW_TYPED.upsertSql(e.getKey()).replaceAll("\\$\\d+", "?"));
                                typed.put(e.getKey(), up);
                            }
                            Object[][] t = e.getValue();
                            for (int k = 0; k < t.length - 1; k++) {
                                up.setArray(k + 1, c.createArrayOf("text", t[k]));
                            }
                            up.setArray(t.length, c.createArrayOf("int4", t[t.length - 1]));
                            up.execute();
                        }
                        c.commit();
                    }
                    for (PreparedStatement up : typed.values()) {
                        up.close();
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : work) {
            f.get();
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /**
     * One device's baseline work, built before anything is timed: per batch, the change rows' columns, and per table
     * the typed rows' columns (ids, scopes, one per field, conflicts), rows in id order.
     */
    private record Batch(List<String[][]> changeColumns, List<Map<String, Object[][]>> typedColumns) {}

    private static Map<String, Object[][]> typed(List<Change> batch) {
        Schema schema = SchemaLoader.farmExample();
        Map<String, java.util.TreeMap<String, RowState>> rows = new LinkedHashMap<>();
        for (Change ch : batch) {
            var byId = rows.computeIfAbsent(ch.table(), k -> new java.util.TreeMap<>());
            RowState row = byId.getOrDefault(ch.rowId(), RowState.empty(ch.table(), ch.rowId(), ch.scope()));
            byId.put(
                    ch.rowId(),
                    RowMerge.apply(schema.table(ch.table()), row, ch).row());
        }
        Map<String, Object[][]> out = new java.util.TreeMap<>(); // tables in name order, ids sorted: no deadlock
        rows.forEach((table, byId) -> {
            Table t = schema.table(table);
            int n = byId.size();
            Object[][] cols = new Object[t.columns().size() + 3][];
            for (int k = 0; k < t.columns().size() + 2; k++) {
                cols[k] = new String[n];
            }
            cols[cols.length - 1] = new Integer[n];
            int i = 0;
            for (RowState r : byId.values()) {
                cols[0][i] = r.id();
                cols[1][i] = r.scope();
                List<String> values = DataTables.values(t, r);
                for (int k = 0; k < values.size(); k++) {
                    cols[k + 2][i] = values.get(k);
                }
                cols[cols.length - 1][i] = 0;
                i++;
            }
            out.put(table, cols);
        });
        return out;
    }

    /** The change rows' columns of every batch of every device, built before anything is timed. */
    private static List<Batch> columns(List<Device> devices) {
        List<Batch> out = new ArrayList<>();
        for (Device device : devices) {
            List<String[][]> perBatch = new ArrayList<>();
            List<Map<String, Object[][]>> typedPerBatch = new ArrayList<>();
            for (List<Change> batch : device.batches()) {
                typedPerBatch.add(typed(batch));
                int n = batch.size();
                String[][] cols = new String[7][n];
                for (int i = 0; i < n; i++) {
                    Change ch = batch.get(i);
                    cols[0][i] = ch.scope();
                    cols[1][i] = ch.deviceId();
                    cols[2][i] = ch.table();
                    cols[3][i] = ch.rowId();
                    cols[4][i] = ch.field();
                    cols[5][i] = ch.clock().toString();
                    cols[6][i] = BenchSupport.CODEC.encodeChange(ch);
                }
                perBatch.add(cols);
            }
            out.add(new Batch(perBatch, typedPerBatch));
        }
        return out;
    }
}
