package dev.outpost.device;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.model.ModelSlots;
import dev.outpost.device.sqlite.SqliteChangeLog;
import dev.outpost.device.sqlite.SqliteDatabase;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.TrustedKeys;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The chaos soak (docs/RELIABILITY.md): real {@code outpost} device processes make seeded random edits under every
 * merge policy and sync through a {@link ChaosProxy}, while the service is SIGKILLed (from outside, and by itself at
 * seeded points of a batch's apply), its PostgreSQL is SIGKILLed and restarted, and the device processes are killed
 * during writes, syncs and model installs (SIGKILL at random moments, and halts at named crash points). An oracle
 * keeps every write a device acknowledged (exit 0); a write whose process died is looked up in the device's change
 * log, so the oracle knows whether it landed. At the end, with the faults off, every device syncs until nothing is
 * pending and then checks against the service: see {@link #check}. {@code bench/run soak [MINUTES] [SEED]} runs it
 * long; {@code SoakIT} runs two minutes in CI.
 */
final class ChaosSoak {
    static final String SCOPE = "nakuru";
    private static final String MODEL = "soak";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final WireCodec CODEC = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);

    final long seed;
    final double minutes;
    final int devices;
    final Path dir;
    /** Kills by where they landed: device-write, device-sync, model-install, service-batch, service, postgres. */
    final Map<String, AtomicLong> kills = new ConcurrentHashMap<>();
    /** Operations by kind: write (acknowledged), write-refused, sync, sync-failed, model-update. */
    final Map<String, AtomicLong> operations = new ConcurrentHashMap<>();
    /** What a check found wrong, in words (empty: nothing). */
    final List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());

    long lost;
    long duplicated;
    double convergeSeconds;

    private KillablePostgres postgres;
    private volatile Service service;
    private int servicePort;
    private Map<String, String> serviceEnv;
    private ChaosProxy proxy;
    private final Map<Long, Sha256> modelSha = new HashMap<>();
    private volatile long desired = 1;

    ChaosSoak(long seed, double minutes, int devices, Path dir) {
        this.seed = seed;
        this.minutes = minutes;
        this.devices = devices;
        this.dir = dir;
    }

    /** {@code bench/run soak [MINUTES] [SEED] [DEVICES]}: prints the figures and the RESULT line. */
    public static void main(String[] args) throws Exception {
        double minutes = args.length > 0 ? Double.parseDouble(args[0]) : 10;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime();
        int devices = args.length > 2 ? Integer.parseInt(args[2]) : 6;
        ChaosSoak soak = new ChaosSoak(seed, minutes, devices, Files.createTempDirectory("outpost-soak"));
        soak.run();
        System.out.println(soak.summary());
        System.out.println(soak.result());
        System.exit(soak.failures.isEmpty() ? 0 : 1);
    }

    void count(Map<String, AtomicLong> map, String key) {
        map.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
    }

    long total(Map<String, AtomicLong> map) {
        return map.values().stream().mapToLong(AtomicLong::get).sum();
    }

    long get(Map<String, AtomicLong> map, String key) {
        AtomicLong n = map.get(key);
        return n == null ? 0 : n.get();
    }

    long proxyCount(String kind) {
        return proxy.count(kind);
    }

    String summary() {
        return "soak: seed " + seed + ", " + minutes + " min, " + devices + " devices; operations "
                + new TreeMap<>(operations)
                + "; kills " + new TreeMap<>(kills) + " (" + total(kills) + "); link faults "
                + new TreeMap<>(proxy.counts) + "; converged in " + String.format("%.1f", convergeSeconds) + " s; "
                + (failures.isEmpty() ? "nothing wrong" : failures.size() + " failures: " + failures);
    }

    String result() {
        return String.format(
                "RESULT name=soak minutes=%.1f seed=%d devices=%d writes_acknowledged=%d syncs=%d model_updates=%d"
                        + " kill_points=%d kills_device_write=%d kills_device_sync=%d kills_model_install=%d"
                        + " kills_service_batch=%d kills_service=%d kills_postgres=%d link_faults=%d"
                        + " converge_s=%.1f lost=%d duplicated=%d failures=%d ratio=%.3f",
                minutes,
                seed,
                devices,
                get(operations, "write"),
                get(operations, "sync") + get(operations, "sync-failed"),
                get(operations, "model-update"),
                total(kills),
                get(kills, "device-write"),
                get(kills, "device-sync"),
                get(kills, "model-install"),
                get(kills, "service-batch"),
                get(kills, "service"),
                get(kills, "postgres"),
                proxy.counts.entrySet().stream()
                        .filter(e -> !e.getKey().equals("upstream-down"))
                        .mapToLong(e -> e.getValue().get())
                        .sum(),
                convergeSeconds,
                lost,
                duplicated,
                failures.size(),
                // the share of acknowledged writes found everywhere they should be: 1.000 is nothing lost
                1.0 - lost / (double) Math.max(1, get(operations, "write")));
    }

    // ------------------------------------------------------------------------------------------------ the run

    void run() throws Exception {
        Random random = new Random(seed);
        postgres = new KillablePostgres(dir.resolve("pgdata"), Service.freePort());
        servicePort = Service.freePort();
        serviceEnv = new HashMap<>(Map.of(
                "QUARKUS_DATASOURCE_REACTIVE_URL", "postgresql://localhost:" + postgres.port + "/postgres",
                "QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://localhost:" + postgres.port + "/postgres",
                "QUARKUS_DATASOURCE_USERNAME", "postgres",
                "QUARKUS_DATASOURCE_PASSWORD", "postgres",
                "OUTPOST_LIMITS_ENABLED", "false",
                "OUTPOST_COMPACTION_ENABLED", "false"));
        service = startService(random);
        proxy = new ChaosProxy(servicePort, random.nextLong(), 0);
        List<Device> fleet = new ArrayList<>();
        try {
            Path models = Files.createDirectories(dir.resolve("models"));
            for (long v = 1; v <= 3; v++) {
                Path file = ModelUpdateIT.weights(models, "soak-v" + v + ".bin", 70 + v % 3, 3 << 20, v == 2);
                service.upload(MODEL, v, file);
                modelSha.put(v, Sha256.digest(Files.readAllBytes(file)));
            }
            service.desire(MODEL, desired);
            for (int d = 0; d < devices; d++) {
                String id = "soak-" + d;
                Device device = new Device(id, new Outpost(dir.resolve(id)), new Random(seed * 31 + d));
                service.initTrusting(device.outpost, id, proxy.url()).ok();
                fleet.add(device);
            }
            proxy.faultShare(0.2);
            long endAt = System.nanoTime() + (long) (minutes * 60e9);
            ExecutorService pool = Executors.newFixedThreadPool(devices);
            List<Future<?>> running = new ArrayList<>();
            for (Device device : fleet) {
                running.add(pool.submit(() -> {
                    device.work(endAt);
                    return null;
                }));
            }
            chaos(random, endAt);
            for (Future<?> f : running) {
                f.get();
            }
            pool.shutdown();
            proxy.faultShare(0);
            if (!service.alive()) {
                count(kills, "service-batch");
                serviceEnv.remove("OUTPOST_CRASH_AT");
                service = Service.start(dir.resolve("service"), servicePort, serviceEnv);
            } else {
                // the end is quiet: no crash point armed any more
                service.kill();
                serviceEnv.remove("OUTPOST_CRASH_AT");
                service = Service.start(dir.resolve("service"), servicePort, serviceEnv);
            }
            converge(fleet);
            check(fleet);
        } finally {
            proxy.close();
            if (service != null) {
                service.close();
            }
            postgres.close();
        }
    }

    private Service startService(Random random) throws IOException, InterruptedException {
        // Each start arms one crash point of the batch apply at a seeded batch: the service dies there by itself.
        serviceEnv.put(
                "OUTPOST_CRASH_AT",
                (random.nextBoolean() ? "batch-written:" : "batch-committed:") + (3 + random.nextInt(25)));
        return Service.start(dir.resolve("service"), servicePort, serviceEnv);
    }

    /** The chaos loop: restarts a service that died, kills the service and PostgreSQL at seeded moments. */
    private void chaos(Random random, long endAt) throws Exception {
        long now = System.nanoTime();
        long nextServiceKill = now + seconds(20 + random.nextInt(25));
        long nextPostgresKill = now + seconds(30 + random.nextInt(30));
        long nextModel = now + seconds(45);
        while ((now = System.nanoTime()) < endAt) {
            Thread.sleep(500);
            if (!service.alive()) {
                count(kills, "service-batch");
                service = startService(random);
            } else if (now >= nextServiceKill) {
                service.kill();
                count(kills, "service");
                service = startService(random);
                nextServiceKill = System.nanoTime() + seconds(20 + random.nextInt(25));
            } else if (now >= nextPostgresKill) {
                postgres.kill();
                count(kills, "postgres");
                postgres.start();
                nextPostgresKill = System.nanoTime() + seconds(30 + random.nextInt(30));
            } else if (now >= nextModel) {
                try {
                    long next = desired % 3 + 1;
                    service.desire(MODEL, next);
                    desired = next;
                    nextModel = System.nanoTime() + seconds(60);
                } catch (IOException | RuntimeException down) {
                    nextModel = System.nanoTime() + seconds(5); // the service is down or restarting: again soon
                }
            }
        }
    }

    private static long seconds(long s) {
        return TimeUnit.SECONDS.toNanos(s);
    }

    // ------------------------------------------------------------------------------------------------ devices

    enum Kind {
        NAME,
        PHONE,
        ADD,
        TAG_ADD,
        TAG_REMOVE,
        STAGE,
        PLOT_PUT,
        PLOT_DELETE
    }

    /** One write: a unique value (names, phones, soil types, set elements) or an amount (counters, stages). */
    record Write(Kind kind, String table, String row, String field, String value, long n) {
        String[] args() {
            return switch (kind) {
                case NAME, PHONE, PLOT_PUT -> new String[] {"put", table, row, field + "=" + value};
                case STAGE -> new String[] {"put", table, row, field + "=" + n};
                case ADD -> new String[] {"add", table, row, field, Long.toString(n)};
                case TAG_ADD -> new String[] {"tag", table, row, field, "+" + value};
                case TAG_REMOVE -> new String[] {"tag", table, row, field, "-" + value};
                case PLOT_DELETE -> new String[] {"delete", table, row};
            };
        }

        /** Whether {@code c}, a change found in the device's log, is this write. */
        boolean is(Change c) {
            if (!c.table().equals(table) || !c.rowId().equals(row)) {
                return false;
            }
            return switch (kind) {
                case NAME, PHONE, PLOT_PUT ->
                    c.field().equals(field)
                            && c.op() instanceof Op.Assign a
                            && a.value() instanceof FieldValue.Text t
                            && t.value().equals(value);
                case STAGE ->
                    c.field().equals(field)
                            && c.op() instanceof Op.Assign a
                            && a.value() instanceof FieldValue.Int i
                            && i.value() == n;
                case ADD -> c.field().equals(field) && c.op() instanceof Op.CounterTotal;
                case TAG_ADD -> c.op() instanceof Op.SetAdd s && s.element().equals(value);
                case TAG_REMOVE ->
                    c.op() instanceof Op.SetRemove s && s.element().equals(value);
                case PLOT_DELETE -> c.op() instanceof Op.Delete;
            };
        }
    }

    /** One device: its process runs one command at a time; its oracle is what it acknowledged, and what landed. */
    final class Device {
        final String id;
        final Outpost outpost;
        final Random random;
        /** Changes its log should hold: one per landed write. */
        long logged;

        final List<Write> landed = new ArrayList<>();
        /** Per counter row, the sum of the increments that landed. */
        final Map<String, Long> increments = new TreeMap<>();
        /** Set elements it added that landed and are not removed: row -> elements. */
        final Map<String, Set<String>> elements = new TreeMap<>();

        final Map<String, Set<String>> removed = new TreeMap<>();
        int written;

        Device(String id, Outpost outpost, Random random) {
            this.id = id;
            this.outpost = outpost;
            this.random = random;
        }

        void work(long endAt) throws Exception {
            while (System.nanoTime() < endAt) {
                double r = random.nextDouble();
                if (r < 0.72) {
                    write(next());
                } else if (r < 0.96) {
                    sync();
                } else {
                    modelUpdate();
                }
            }
        }

        private Write next() {
            int w = written++;
            String value = id + "-" + w;
            // Plot rows come in generations (a new one every 30 s of wall time), so deletes keep meeting updates.
            long generation = System.currentTimeMillis() / 30_000;
            return switch (random.nextInt(10)) {
                case 0 -> new Write(Kind.NAME, "farmer", "p-" + id + "-" + random.nextInt(10), "name", value, 0);
                case 1 -> new Write(Kind.NAME, "farmer", "s-" + random.nextInt(15), "name", value, 0);
                case 2 -> new Write(Kind.PHONE, "farmer", "s-" + random.nextInt(15), "phone", value, 0);
                case 3, 4 ->
                    new Write(
                            Kind.ADD,
                            "crop_record",
                            "c-" + random.nextInt(10),
                            "bags_harvested",
                            null,
                            1 + random.nextInt(5));
                case 5 -> new Write(Kind.TAG_ADD, "crop_record", "c-" + random.nextInt(10), "pests", value, 0);
                case 6 -> {
                    for (var e : elements.entrySet()) {
                        if (!e.getValue().isEmpty() && random.nextBoolean()) {
                            String element = e.getValue().iterator().next();
                            yield new Write(Kind.TAG_REMOVE, "crop_record", e.getKey(), "pests", element, 0);
                        }
                    }
                    yield new Write(Kind.TAG_ADD, "crop_record", "c-" + random.nextInt(10), "pests", value, 0);
                }
                case 7 ->
                    new Write(Kind.STAGE, "crop_record", "c-" + random.nextInt(10), "stage", null, random.nextInt(100));
                case 8 ->
                    new Write(
                            Kind.PLOT_PUT, "plot", "g-" + generation + "-" + random.nextInt(4), "soil_type", value, 0);
                default ->
                    new Write(Kind.PLOT_DELETE, "plot", "g-" + generation + "-" + random.nextInt(4), null, null, 0);
            };
        }

        /** Runs {@code args}, maybe killed: the exit code, or -1 when this soak killed it (SIGKILL). */
        private int runMaybeKilled(String[] args, Map<String, String> env, long killAfterMs) throws Exception {
            ProcessBuilder pb = new ProcessBuilder(outpost.command(args))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD);
            pb.environment().putAll(env);
            Process p = pb.start();
            if (killAfterMs > 0) {
                if (!p.waitFor(killAfterMs, TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    p.waitFor();
                    return -1;
                }
                return p.exitValue();
            }
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                failures.add(id + ": 'outpost " + String.join(" ", args) + "' did not end in 180 s");
                p.waitFor();
                return -1;
            }
            return p.exitValue();
        }

        void write(Write w) throws Exception {
            Map<String, String> env = Map.of();
            long killAfter = 0;
            double k = random.nextDouble();
            if (k < 0.18) {
                env = Map.of("OUTPOST_CRASH_AT", "write:1");
            } else if (k < 0.36) {
                env = Map.of("OUTPOST_CRASH_AT", "written:1");
            } else if (k < 0.55) {
                killAfter = 20 + random.nextInt(400);
            }
            int exit = runMaybeKilled(w.args(), env, killAfter);
            if (exit == 0) {
                count(operations, "write");
                land(w);
                return;
            }
            if (exit == -1 || exit == 137) {
                count(kills, "device-write");
            } else if (exit == 2 && (w.kind() == Kind.PLOT_DELETE || w.kind() == Kind.PLOT_PUT)) {
                count(
                        operations,
                        "write-refused"); // a row not held here, or deleted meanwhile: bad input, nothing written
            } else {
                failures.add(id + ": 'outpost " + String.join(" ", w.args()) + "' exited " + exit);
            }
            // Not acknowledged: whether it landed is in the log (a write is one transaction).
            List<Change> log = log();
            if (log.size() == logged + 1 && w.is(log.getLast())) {
                land(w);
            } else if (log.size() != logged) {
                failures.add(id + ": the log holds " + log.size() + " changes where " + logged + " or " + (logged + 1)
                        + " were expected after " + w);
                logged = log.size();
            }
        }

        private void land(Write w) {
            logged++;
            landed.add(w);
            switch (w.kind()) {
                case ADD -> increments.merge(w.row(), w.n(), Long::sum);
                case TAG_ADD ->
                    elements.computeIfAbsent(w.row(), r -> new TreeSet<>()).add(w.value());
                case TAG_REMOVE -> {
                    elements.get(w.row()).remove(w.value());
                    removed.computeIfAbsent(w.row(), r -> new TreeSet<>()).add(w.value());
                }
                default -> {}
            }
        }

        /** Every change in the device's log, oldest first (the process is not running). */
        List<Change> log() {
            try (SqliteDatabase db = SqliteDatabase.open(outpost.home.resolve(DeviceHome.DB_FILE))) {
                SqliteChangeLog store = new SqliteChangeLog(db);
                return db.inTransaction(() -> {
                    List<ChangeLog.LoggedChange> all = new ArrayList<>(store.findSentAndPending());
                    all.addAll(store.findRefused());
                    all.sort(java.util.Comparator.comparingLong(ChangeLog.LoggedChange::seq));
                    return all.stream().map(l -> CODEC.decodeChange(l.change())).toList();
                });
            }
        }

        void sync() throws Exception {
            Map<String, String> env = Map.of();
            long killAfter = 0;
            double k = random.nextDouble();
            if (k < 0.15) {
                env = Map.of("OUTPOST_CRASH_AT", "answered:" + (1 + random.nextInt(3)));
            } else if (k < 0.30) {
                env = Map.of("OUTPOST_CRASH_AT", "pulled:" + (1 + random.nextInt(3)));
            } else if (k < 0.50) {
                killAfter = 50 + random.nextInt(2500);
            }
            int exit = runMaybeKilled(new String[] {"sync"}, env, killAfter);
            if (exit == -1 || exit == 137) {
                count(kills, "device-sync");
            } else if (exit == 0) {
                count(operations, "sync");
            } else if (exit == 3) {
                count(operations, "sync-failed"); // the link or the service is down: nothing lost, sync again later
            } else {
                failures.add(id + ": 'outpost sync' exited " + exit);
            }
        }

        void modelUpdate() throws Exception {
            Map<String, String> env = Map.of();
            long killAfter = 0;
            double k = random.nextDouble();
            if (k < 0.15) {
                env = Map.of("OUTPOST_CRASH_AT", "download:" + (1 + random.nextInt(2)));
            } else if (k < 0.30) {
                env = Map.of("OUTPOST_CRASH_AT", "activate:" + (1 + random.nextInt(2)));
            } else if (k < 0.5) {
                killAfter = 250 + random.nextInt(2000);
            }
            int exit = runMaybeKilled(new String[] {"model", "update", MODEL}, env, killAfter);
            if (exit == -1 || exit == 137) {
                count(kills, "model-install");
            } else if (exit == 0) {
                count(operations, "model-update");
            } else if (exit != 3) {
                failures.add(id + ": 'outpost model update' exited " + exit);
            }
            checkActiveModel(null);
        }

        boolean hasActive(long version) throws IOException {
            var active = new ModelSlots(outpost.home.resolve("models"), MODEL)
                    .getActive(TrustedKeys.of(TestKeys.ONLINE.publicKey()));
            return active.isPresent() && active.get().manifest().version() == version;
        }

        /** Whatever is active is a whole version that verifies (and, given {@code expected}, is that one). */
        void checkActiveModel(Long expected) throws IOException {
            var active = new ModelSlots(outpost.home.resolve("models"), MODEL)
                    .getActive(TrustedKeys.of(TestKeys.ONLINE.publicKey()));
            if (active.isEmpty()) {
                if (expected != null) {
                    failures.add(id + ": no model active at the end");
                }
                return;
            }
            long v = active.get().manifest().version();
            if (!ModelSlots.verifies(active.get().file(), active.get().manifest())
                    || !modelSha.get(v).equals(active.get().manifest().sha256())) {
                failures.add(id + ": the active model version " + v + " does not verify");
            }
            if (expected != null && v != expected) {
                failures.add(id + ": version " + v + " active at the end, " + expected + " desired");
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ the end

    /** With the faults off: every device syncs until nothing is pending, then once more to pull what the rest sent. */
    private void converge(List<Device> fleet) throws Exception {
        long start = System.nanoTime();
        for (int round = 0; ; round++) {
            boolean settled = true;
            for (Device d : fleet) {
                Outpost.Result r = d.outpost.run("sync");
                settled &= r.exit() == 0
                        && TestJson.number(
                                        d.outpost.run("status", "--json").ok().out(), "pending")
                                == 0;
            }
            if (settled) {
                break;
            }
            if (round == 10) {
                failures.add("the fleet did not settle in 10 quiet sync rounds");
                break;
            }
        }
        for (Device d : fleet) {
            d.outpost.run("sync").ok();
        }
        convergeSeconds = (System.nanoTime() - start) / 1e9;
        for (Device d : fleet) {
            // As a device in the field would: "unavailable" (exit 3) is asked again. A delta job claimed by a service
            // killed mid-job is another replica's to take over once the claim lapses (30 s); each ask waits up to
            // 20 s on the service for the job first.
            // An install a kill interrupted after its switch is finished first: the next run goes on to the desired.
            Outpost.Result r = d.outpost.run("model", "update", MODEL);
            long until = System.nanoTime() + seconds(90);
            int finished = 0;
            while (System.nanoTime() < until
                    && (r.exit() == 3 || (r.exit() == 0 && !d.hasActive(desired) && finished++ < 2))) {
                count(operations, "model-update-again");
                r = d.outpost.run("model", "update", MODEL);
            }
            if (r.exit() != 0) {
                failures.add(d.id + ": the last model update failed: " + r.err());
            }
            d.checkActiveModel(desired);
        }
    }

    /**
     * What must hold at the end. Per device: every acknowledged write is in its log, and nothing else is. Per change:
     * it is in the service's feed at most once, and
     * counter totals and set edits exactly once. On the service: each name is the newest (by HLC) written to it;
     * each counter the sum of the increments that landed; each stage the largest written; each set what was added and
     * not removed; every phone value not replaced by a write that saw it is the field's value or a candidate of its
     * open conflict. And every device's typed tables equal the service's.
     */
    void check(List<Device> fleet) throws Exception {
        Map<String, List<Change>> logs = new TreeMap<>();
        for (Device d : fleet) {
            List<Change> log = d.log();
            logs.put(d.id, log);
            if (log.size() != d.logged) {
                failures.add(d.id + ": its log holds " + log.size() + " changes, " + d.logged + " landed");
            }
            // Every landed write, in order, is the next change of the log.
            int i = 0;
            for (Write w : d.landed) {
                if (i >= log.size() || !w.is(log.get(i))) {
                    lost++;
                    failures.add(d.id + ": landed write " + w + " is not change " + i + " of its log");
                    break;
                }
                i++;
            }
        }
        // The feed, pulled whole: every device change exactly once.
        Map<Change, Integer> feed = new HashMap<>();
        for (Change c : pullFeed()) {
            feed.merge(c, 1, Integer::sum);
        }
        for (var e : logs.entrySet()) {
            for (Change c : e.getValue()) {
                Integer n = feed.get(c);
                // Only a change that changed its row is fed: an assign older than the value it met, a stage below
                // the kept one, a second delete are applied and not fed (the state checks below cover them). A
                // counter's total, a set's add or remove always change the row: each must be there.
                boolean alwaysFed = c.op() instanceof Op.CounterTotal
                        || c.op() instanceof Op.SetAdd
                        || c.op() instanceof Op.SetRemove;
                if (n == null && alwaysFed) {
                    lost++;
                    if (lost < 5) {
                        failures.add(e.getKey() + ": change never reached the service: " + c);
                    }
                } else if (n != null && n > 1) {
                    duplicated += n - 1;
                    failures.add(e.getKey() + ": change fed " + n + " times: " + c);
                }
            }
        }
        try (Connection db = postgres.connect()) {
            checkState(db, fleet, logs);
            Map<String, String> office = typedRows(db);
            for (Device d : fleet) {
                Map<String, String> local = deviceRows(d);
                if (!local.equals(office)) {
                    Set<String> keys = new TreeSet<>(office.keySet());
                    keys.addAll(local.keySet());
                    List<String> differ = keys.stream()
                            .filter(k -> !java.util.Objects.equals(office.get(k), local.get(k)))
                            .limit(3)
                            .map(k -> k + ": service " + office.get(k) + ", device " + local.get(k))
                            .toList();
                    failures.add(d.id + " differs from the service: " + differ);
                }
            }
        }
    }

    private void checkState(Connection db, List<Device> fleet, Map<String, List<Change>> logs) throws Exception {
        Map<String, Change> newestName = new HashMap<>();
        Map<String, Long> stages = new HashMap<>();
        Map<String, List<Change>> phones = new HashMap<>();
        Set<Hlc> replaced = new HashSet<>();
        for (List<Change> log : logs.values()) {
            for (Change c : log) {
                if (c.op() instanceof Op.Assign a) {
                    replaced.addAll(a.replaces());
                    String key = c.rowId();
                    switch (c.field()) {
                        case "name" ->
                            newestName.merge(key, c, (x, y) -> x.clock().compareTo(y.clock()) >= 0 ? x : y);
                        case "stage" -> stages.merge(key, ((FieldValue.Int) a.value()).value(), Math::max);
                        case "phone" ->
                            phones.computeIfAbsent(key, k -> new ArrayList<>()).add(c);
                        default -> {}
                    }
                }
            }
        }
        Map<String, Long> counters = new TreeMap<>();
        Map<String, Set<String>> sets = new TreeMap<>();
        for (Device d : fleet) {
            d.increments.forEach((row, n) -> counters.merge(row, n, Long::sum));
            d.elements.forEach(
                    (row, e) -> sets.computeIfAbsent(row, r -> new TreeSet<>()).addAll(e));
        }
        try (Statement s = db.createStatement()) {
            try (ResultSet rs = s.executeQuery("select id, name, phone from outpost_data.farmer")) {
                Map<String, String[]> farmers = new HashMap<>();
                while (rs.next()) {
                    farmers.put(rs.getString(1), new String[] {rs.getString(2), rs.getString(3)});
                }
                for (var e : newestName.entrySet()) {
                    String expected =
                            ((FieldValue.Text) ((Op.Assign) e.getValue().op()).value()).value();
                    String[] row = farmers.get(e.getKey());
                    if (row == null || !expected.equals(row[0])) {
                        lost++;
                        failures.add("farmer/" + e.getKey() + ".name is " + (row == null ? "missing" : row[0])
                                + ", the newest write was " + expected);
                    }
                }
                Map<String, Set<String>> candidates = conflictCandidates(s);
                for (var e : phones.entrySet()) {
                    String current = farmers.containsKey(e.getKey()) ? farmers.get(e.getKey())[1] : null;
                    for (Change c : e.getValue()) {
                        String v = ((FieldValue.Text) ((Op.Assign) c.op()).value()).value();
                        if (!replaced.contains(c.clock())
                                && !v.equals(current)
                                && !candidates
                                        .getOrDefault(e.getKey(), Set.of())
                                        .contains(v)) {
                            lost++;
                            failures.add("farmer/" + e.getKey() + ".phone: " + v
                                    + " was overwritten by a write that never saw it, and is in no conflict");
                        }
                    }
                }
            }
            try (ResultSet rs =
                    s.executeQuery("select id, bags_harvested, stage, pests from outpost_data.crop_record")) {
                Map<String, Object[]> crops = new HashMap<>();
                while (rs.next()) {
                    List<String> pests = rs.getArray(4) == null
                            ? List.of()
                            : List.of((String[]) rs.getArray(4).getArray());
                    crops.put(rs.getString(1), new Object[] {rs.getLong(2), rs.getLong(3), new TreeSet<>(pests)});
                }
                for (var e : counters.entrySet()) {
                    Object[] row = crops.get(e.getKey());
                    long got = row == null ? 0 : (Long) row[0];
                    if (got < e.getValue()) {
                        lost++;
                        failures.add("crop_record/" + e.getKey() + ".bags_harvested is " + got + ", " + e.getValue()
                                + " were added");
                    } else if (got > e.getValue()) {
                        duplicated++;
                        failures.add("crop_record/" + e.getKey() + ".bags_harvested is " + got + ", only "
                                + e.getValue() + " were added");
                    }
                }
                for (var e : stages.entrySet()) {
                    Object[] row = crops.get(e.getKey());
                    if (row == null || (Long) row[1] != e.getValue()) {
                        lost++;
                        failures.add("crop_record/" + e.getKey() + ".stage is " + (row == null ? null : row[1])
                                + ", the largest written " + e.getValue());
                    }
                }
                Set<String> rows = new TreeSet<>(sets.keySet());
                for (Device d : fleet) {
                    rows.addAll(d.removed.keySet());
                }
                for (String row : rows) {
                    Object[] got = crops.get(row);
                    Set<String> expected = sets.getOrDefault(row, Set.of());
                    if (got == null || !got[2].equals(expected)) {
                        lost++;
                        failures.add("crop_record/" + row + ".pests is " + (got == null ? null : got[2]) + ", expected "
                                + expected);
                    }
                }
            }
        }
    }

    /** Open conflicts' candidate values by farmer row (every text in the candidates JSON, parsed). */
    private static Map<String, Set<String>> conflictCandidates(Statement s) throws Exception {
        Map<String, Set<String>> out = new HashMap<>();
        try (ResultSet rs = s.executeQuery(
                "select row_id, candidates from conflict where tbl = 'farmer' and field = 'phone' and status = 'open'")) {
            while (rs.next()) {
                Set<String> texts = out.computeIfAbsent(rs.getString(1), k -> new HashSet<>());
                collectTexts(JSON.readTree(rs.getString(2)), texts);
            }
        }
        return out;
    }

    private static void collectTexts(JsonNode n, Set<String> into) {
        if (n.isTextual()) {
            into.add(n.asText());
        }
        n.forEach(child -> collectTexts(child, into));
    }

    /** The service's typed rows as comparable strings: table/id -> field values. */
    private static Map<String, String> typedRows(Connection db) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Statement s = db.createStatement()) {
            try (ResultSet rs = s.executeQuery("select id, name, phone from outpost_data.farmer")) {
                while (rs.next()) {
                    out.put("farmer/" + rs.getString(1), rs.getString(2) + "|" + rs.getString(3));
                }
            }
            try (ResultSet rs =
                    s.executeQuery("select id, bags_harvested, stage, pests from outpost_data.crop_record")) {
                while (rs.next()) {
                    List<String> pests = rs.getArray(4) == null
                            ? List.of()
                            : List.of((String[]) rs.getArray(4).getArray());
                    out.put("crop_record/" + rs.getString(1), rs.getLong(2) + "|" + rs.getObject(3) + "|" + pests);
                }
            }
            try (ResultSet rs = s.executeQuery("select id, soil_type from outpost_data.plot")) {
                while (rs.next()) {
                    out.put("plot/" + rs.getString(1), rs.getString(2));
                }
            }
        }
        return out;
    }

    /** The same from a device's typed tables (its sets are JSON arrays). */
    private static Map<String, String> deviceRows(Device d) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (OutpostDevice lib = OutpostDevice.open(d.outpost.home)) {
            for (var r : lib.rows().query("select id, name, phone from farmer", List.of())) {
                out.put("farmer/" + r.get("id"), r.get("name") + "|" + r.get("phone"));
            }
            for (var r : lib.rows().query("select id, bags_harvested, stage, pests from crop_record", List.of())) {
                List<String> pests = new ArrayList<>();
                JSON.readTree(String.valueOf(r.get("pests"))).forEach(n -> pests.add(n.asText()));
                Object stage = r.get("stage");
                out.put(
                        "crop_record/" + r.get("id"),
                        ((Number) r.get("bags_harvested")).longValue() + "|"
                                + (stage == null ? null : ((Number) stage).longValue()) + "|" + pests);
            }
            for (var r : lib.rows().query("select id, soil_type from plot", List.of())) {
                out.put("plot/" + r.get("id"), String.valueOf(r.get("soil_type")));
            }
        }
        return out;
    }

    /** Every change in the service's feed, pulled by a device registered for the purpose, straight from the service. */
    private List<Change> pullFeed() throws Exception {
        String token = service.register("soak-auditor", SCOPE);
        HttpClient http = HttpClient.newHttpClient();
        List<Change> all = new ArrayList<>();
        String cursor = null;
        SyncResponse r;
        do {
            HttpResponse<byte[]> answer = http.send(
                    HttpRequest.newBuilder(URI.create(service.url + "/v1/sync"))
                            .header("Authorization", "Bearer " + token)
                            .header("Content-Type", WireFormat.BINARY.mediaType())
                            .header("Accept", WireFormat.BINARY.mediaType())
                            .POST(HttpRequest.BodyPublishers.ofByteArray(CODEC.encode(
                                    new SyncRequest("soak-auditor", 1, null, cursor, 5000, List.of()),
                                    WireFormat.BINARY)))
                            .build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (answer.statusCode() != 200) {
                throw new IllegalStateException("the audit pull answered " + answer.statusCode());
            }
            r = CODEC.decodeResponse(answer.body(), WireFormat.BINARY);
            all.addAll(r.changes());
            cursor = r.cursor();
        } while (r.more());
        return all;
    }

    // ------------------------------------------------------------------------------------------------ PostgreSQL

    /**
     * PostgreSQL on one data directory and port, killed with SIGKILL (the postmaster: its backends follow) and started
     * again on the same directory, where it recovers from its WAL.
     */
    static final class KillablePostgres implements AutoCloseable {
        final Path data;
        final int port;
        private EmbeddedPostgres pg;

        KillablePostgres(Path data, int port) throws IOException {
            this.data = data;
            this.port = port;
            start();
        }

        void start() throws IOException {
            pg = EmbeddedPostgres.builder()
                    .setDataDirectory(data)
                    .setCleanDataDirectory(false)
                    .setPort(port)
                    .setPGStartupWait(Duration.ofSeconds(120))
                    .setServerConfig("max_connections", "100")
                    // As the service's own embedded database runs (OutpostServer): a commit is durable when answered.
                    // The library's test defaults (no fsync, asynchronous commit) lose acknowledged batches to a kill.
                    .setServerConfig("fsync", "on")
                    .setServerConfig("synchronous_commit", "on")
                    .start();
        }

        Connection connect() throws Exception {
            return pg.getPostgresDatabase().getConnection();
        }

        /** SIGKILL to the postmaster; returns once no process of it is left. */
        void kill() throws Exception {
            long pid = Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid"))
                    .getFirst()
                    .strip());
            List<ProcessHandle> family = new ArrayList<>();
            ProcessHandle.of(pid).ifPresent(p -> {
                family.add(p);
                p.descendants().forEach(family::add);
            });
            new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor();
            for (ProcessHandle p : family) {
                // Backends notice their postmaster is gone and exit; one that lingers is killed too.
                try {
                    p.onExit().get(20, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException slow) {
                    p.destroyForcibly();
                    p.onExit().get(10, TimeUnit.SECONDS);
                }
            }
            pg.close(); // its pg_ctl stop finds nothing to stop; this releases its lock on the directory
        }

        @Override
        public void close() throws IOException {
            pg.close();
        }
    }
}
