package dev.outpost.sync.bench;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bench/run storage-soak [MINUTES]}: steady load with every bounding job on and short periods (compaction every
 * 5 s, a device idle after 30 s, snapshots every 15 s, batch ids kept 30 s): simulated devices keep editing a fixed
 * set of farm rows through {@code POST /v1/sync} and pulling what the others wrote. Every 10 s the sizes of what grows
 * with edits are sampled: feed entries and bytes, applied batch ids, snapshots, the chunk store. Meanwhile a real
 * {@code outpost} tablet syncs once, sleeps past the idle period while its district's feed is compacted, writes while
 * away, and comes back: it must start again from the snapshot, and at the end hold exactly what the service holds.
 * The baseline, measured in the same run, is what the feed would hold without compaction (every entry appended);
 * {@code ratio} is that over what it holds at the end.
 */
public final class StorageSoakBench {
    private static final int DEVICES = 12;
    private static final int FARMERS = 20_000;
    private static final int CROPS = 2_000;
    private static final int BATCH = 40;
    private static final long PACE_MS = 250;
    private static final long IDLE_S = 30;

    private record Sample(double at, long feedRows, long feedBytes, long batchIds, long snapshots, long storeBytes) {}

    public static void main(String[] args) throws Exception {
        double minutes = args.length > 0 ? Double.parseDouble(args[0]) : 5;
        long endAt = System.nanoTime() + (long) (minutes * 60e9);
        Path work = Files.createDirectories(Path.of("target/bench"));
        Path outpost = Path.of("../device-runtime/target/outpost").toAbsolutePath();
        Path home = Files.createTempDirectory("outpost-storage-soak");
        BenchSupport bench = BenchSupport.start(
                work.resolve("storage-soak-service.log"),
                "-XX:+UseSerialGC",
                "-Xmx512m",
                "-Doutpost.compaction.every=PT5S",
                "-Doutpost.compaction.device-idle=PT" + IDLE_S + "S",
                "-Doutpost.snapshots.every=PT15S",
                "-Doutpost.retention.every=PT5S",
                "-Doutpost.retention.batch-retry-window=PT30S");
        Path store = work.resolve("artifacts");
        ExecutorService pool = Executors.newFixedThreadPool(DEVICES);
        AtomicLong changes = new AtomicLong();
        AtomicLong appended = new AtomicLong();
        try (Connection db = bench.postgres.getPostgresDatabase().getConnection()) {
            List<Future<?>> load = new ArrayList<>();
            for (int d = 0; d < DEVICES; d++) {
                String id = "soak-" + d;
                String token = bench.register(id, "soak");
                int seed = d;
                load.add(pool.submit(() -> {
                    device(bench, id, token, seed, endAt, changes, appended);
                    return null;
                }));
            }
            Tablet sleeper = new Tablet(outpost, home.resolve("sleeper"), bench, work);
            sleeper.run(
                    "init",
                    "--server",
                    bench.service.uri("").toString(),
                    "--device-id",
                    "sleeper",
                    "--token",
                    bench.register("sleeper", "soak"));
            sleeper.run("sync");
            long sleptAt = System.nanoTime();
            // Back once the idle period has passed and the feed it stood at has been compacted (and a snapshot is
            // newer than it), or at two thirds of the run.
            long backAt = Math.max(sleptAt + (IDLE_S + 20) * 1_000_000_000L, endAt - (long) (minutes * 20e9));

            List<Sample> samples = new ArrayList<>();
            long start = System.nanoTime();
            String back = null;
            while (System.nanoTime() < endAt) {
                Thread.sleep(10_000);
                samples.add(sample(db, store, (System.nanoTime() - start) / 1e9));
                Sample s = samples.getLast();
                System.out.printf(
                        "t=%4.0f s feed rows=%d bytes=%.1f MB, batch ids=%d, snapshots=%d, store=%.1f MB, changes=%d%n",
                        s.at(),
                        s.feedRows(),
                        s.feedBytes() / 1e6,
                        s.batchIds(),
                        s.snapshots(),
                        s.storeBytes() / 1e6,
                        changes.get());
                if (back == null && System.nanoTime() >= backAt) {
                    sleeper.run("put", "farmer", "soak-f1", "village=Written while away");
                    sleeper.run("add", "crop_record", "soak-c1", "bags_harvested", "7");
                    back = sleeper.run("sync");
                    System.out.printf(
                            "the sleeper came back after %.0f s: %s%n",
                            (System.nanoTime() - sleptAt) / 1e9, back.strip().replace('\n', ' '));
                }
            }
            for (Future<?> f : load) {
                f.get();
            }
            sleeper.run("sync");
            boolean restarted = back != null && back.contains("started from the snapshots");
            long differing = compare(db, sleeper);

            // Flat: the second half's largest sample against the first half's largest.
            List<Sample> first = samples.subList(0, samples.size() / 2);
            List<Sample> second = samples.subList(samples.size() / 2, samples.size());
            long feedFirst = first.stream().mapToLong(Sample::feedRows).max().orElse(0);
            long feedSecond = second.stream().mapToLong(Sample::feedRows).max().orElse(0);
            long bytesFirst = first.stream().mapToLong(Sample::feedBytes).max().orElse(0);
            long bytesSecond =
                    second.stream().mapToLong(Sample::feedBytes).max().orElse(0);
            long storeFirst = first.stream().mapToLong(Sample::storeBytes).max().orElse(0);
            long storeSecond =
                    second.stream().mapToLong(Sample::storeBytes).max().orElse(0);
            Sample last = samples.getLast();
            System.out.printf(
                    "RESULT name=storage-soak minutes=%.1f changes=%d feed_entries_appended=%d feed_rows_end=%d"
                            + " feed_rows_max_first_half=%d feed_rows_max_second_half=%d feed_mb_max_first_half=%.1f"
                            + " feed_mb_max_second_half=%.1f batch_ids_end=%d snapshots_end=%d store_mb_max_first_half=%.1f"
                            + " store_mb_max_second_half=%.1f sleeper_restarted=%d sleeper_rows_differing=%d ratio=%.1f%n",
                    minutes,
                    changes.get(),
                    appended.get(),
                    last.feedRows(),
                    feedFirst,
                    feedSecond,
                    bytesFirst / 1e6,
                    bytesSecond / 1e6,
                    last.batchIds(),
                    last.snapshots(),
                    storeFirst / 1e6,
                    storeSecond / 1e6,
                    restarted ? 1 : 0,
                    differing,
                    appended.get() / (double) Math.max(1, last.feedRows()));
        } finally {
            pool.shutdownNow();
            bench.stop();
        }
    }

    /**
     * One simulated device: every {@link #PACE_MS} a batch of renames and counter totals, then every page pulled (so
     * its cursor, and the horizon, move on).
     */
    private static void device(
            BenchSupport bench, String id, String token, int seed, long endAt, AtomicLong changes, AtomicLong appended)
            throws Exception {
        Random random = new Random(seed);
        HybridClock clock = new HybridClock(id, System::currentTimeMillis, null);
        Map<String, Long> totals = new HashMap<>();
        String cursor = null;
        int batchNo = 0;
        while (System.nanoTime() < endAt) {
            long next = System.nanoTime() + PACE_MS * 1_000_000L;
            List<Change> batch = new ArrayList<>(BATCH);
            for (int i = 0; i < BATCH; i++) {
                if (i % 4 == 3) {
                    String crop = "soak-c" + random.nextInt(CROPS);
                    long total = totals.merge(crop, 1L + random.nextInt(3), Long::sum);
                    batch.add(new Change(
                            "crop_record", crop, "soak", "bags_harvested", new Op.CounterTotal(total), clock.now()));
                } else {
                    String farmer = "soak-f" + random.nextInt(FARMERS);
                    batch.add(new Change(
                            "farmer",
                            farmer,
                            "soak",
                            "name",
                            new Op.Assign(new FieldValue.Text(id + " " + batchNo)),
                            clock.now()));
                }
            }
            SyncResponse r = bench.sync(token, new SyncRequest(id, 1, id + "-" + batchNo++, cursor, 1000, batch));
            changes.addAndGet(batch.size());
            appended.incrementAndGet();
            cursor = r.cursor();
            while (r.more()) {
                r = bench.sync(token, new SyncRequest(id, 1, null, cursor, 1000, List.of()));
                cursor = r.cursor();
            }
            long wait = next - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }
        }
    }

    private static Sample sample(Connection db, Path store, double at) throws Exception {
        try (Statement s = db.createStatement();
                ResultSet rs = s.executeQuery("select (select count(*) from change_feed),"
                        + " pg_total_relation_size('change_feed'), (select count(*) from sync_batch),"
                        + " (select count(*) from scope_snapshot)")) {
            rs.next();
            long bytes = 0;
            if (Files.exists(store)) {
                try (var files = Files.walk(store)) {
                    bytes = files.filter(Files::isRegularFile)
                            .mapToLong(p -> p.toFile().length())
                            .sum();
                }
            }
            return new Sample(at, rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), bytes);
        }
    }

    /** Rows (farmer names and villages, crop counters) where the tablet and the service's typed tables differ. */
    private static long compare(Connection db, Tablet tablet) throws Exception {
        Map<String, String> service = new TreeMap<>();
        try (Statement s = db.createStatement();
                ResultSet rs = s.executeQuery("select 'farmer/' || id, coalesce(name, '') || '|' || coalesce(village,"
                        + " '') from outpost_data.farmer union all select 'crop/' || id, coalesce(bags_harvested::text,"
                        + " '') from outpost_data.crop_record")) {
            while (rs.next()) {
                service.put(rs.getString(1), rs.getString(2));
            }
        }
        Map<String, String> device = new TreeMap<>();
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String[] t : new String[][] {
            {"farmer", "coalesce(name, '') || '|' || coalesce(village, '')"},
            {"crop", "coalesce(cast(bags_harvested as text), '')"}
        }) {
            String after = "";
            while (true) {
                List<String> page = tablet.run(
                                "query",
                                "select id, " + t[1] + " as v from " + (t[0].equals("crop") ? "crop_record" : t[0])
                                        + " where id > ? order by id limit 5000",
                                after)
                        .lines()
                        .filter(l -> !l.isBlank())
                        .toList();
                for (String line : page) {
                    var row = json.readTree(line);
                    after = row.get("id").asText();
                    device.put(t[0] + "/" + after, row.get("v").asText());
                }
                if (page.size() < 5000) {
                    break;
                }
            }
        }
        long differing = 0;
        for (String key : service.keySet()) {
            if (!service.get(key).equals(device.get(key))) {
                differing++;
            }
        }
        for (String key : device.keySet()) {
            if (!service.containsKey(key)) {
                differing++;
            }
        }
        System.out.printf(
                "compared %d rows on the service with %d on the tablet: %d differ%n",
                service.size(), device.size(), differing);
        return differing;
    }

    /** The real {@code outpost} binary on one home. */
    private record Tablet(Path outpost, Path home, BenchSupport bench, Path work) {
        String run(String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(outpost.toString(), "--home", home.toString()));
            command.addAll(List.of(args));
            Path out = work.resolve("storage-soak-tablet.out");
            Process p = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .start();
            if (p.waitFor() != 0) {
                throw new IllegalStateException(
                        String.join(" ", args) + " failed (exit " + p.exitValue() + "): " + Files.readString(out));
            }
            return Files.readString(out);
        }
    }
}
