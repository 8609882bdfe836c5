package dev.outpost.sync.bench;

import dev.outpost.model.bench.FarmDay;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.sync.ServiceProcess;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code bench/run scale}: field changes per second through {@code POST /v1/sync} with 1, 2 and 3 service replicas on
 * one PostgreSQL (a fresh one per replica count), devices spread over the replicas as a balancer spreads connections;
 * per replica count the CPU the replicas and PostgreSQL spent per change and the WAL written per change. The
 * baseline is one replica, in the same run. This machine has two cores for everything (replicas, PostgreSQL, the
 * simulated devices): the figures show what a replica costs, not how far more machines would scale.
 */
public final class ScaleBench {
    private static final int WARMUP_ROUNDS = Integer.getInteger("outpost.bench.warmup-rounds", 4);
    private static final int ROUNDS = Integer.getInteger("outpost.bench.rounds", 5);
    private static final int REPLICAS_MAX = 3;

    private ScaleBench() {}

    public static void main(String[] args) throws Exception {
        int devices = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        int editsPerDevice = args.length > 1 ? Integer.parseInt(args[1]) : 8_000;
        int batchMax = 500;
        Schema schema = SchemaLoader.farmExample();
        Path work = Files.createDirectories(Path.of("target/bench"));
        double[] perSecond = new double[REPLICAS_MAX + 1];
        double[] serviceCpuUs = new double[REPLICAS_MAX + 1];
        double[] postgresCpuUs = new double[REPLICAS_MAX + 1];
        double[] walBytes = new double[REPLICAS_MAX + 1];
        for (int n = 1; n <= REPLICAS_MAX; n++) {
            EmbeddedPostgres pg = BenchSupport.startPostgres();
            String url = "jdbc:postgresql://localhost:" + pg.getPort() + "/postgres";
            List<ServiceProcess> replicas = new ArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(devices);
            try {
                for (int r = 0; r < n; r++) {
                    // The heap each replica would get on a small node; ParallelGC as in bench/run ingest.
                    replicas.add(BenchSupport.startService(
                            pg, work.resolve("scale-" + n + "-" + r + ".log"), "-XX:+UseParallelGC", "-Xmx512m"));
                }
                List<BenchSupport> links =
                        replicas.stream().map(s -> new BenchSupport(pg, s)).toList();
                IngestBench.Registrar register = id -> links.getFirst().register(id, FarmDay.DISTRICT);
                // As much warm-up per replica whatever their number: each JIT compiles its own code.
                for (int round = 0; round < WARMUP_ROUNDS * n; round++) {
                    pushAll(
                            links,
                            IngestBench.devices(
                                    register,
                                    schema,
                                    "warm" + round + "-",
                                    2000 + 100 * round,
                                    devices,
                                    editsPerDevice,
                                    batchMax),
                            pool);
                }
                List<double[]> rounds = new ArrayList<>();
                for (int round = 0; round < ROUNDS; round++) {
                    List<IngestBench.Device> measured = IngestBench.devices(
                            register,
                            schema,
                            "officer" + round + "-",
                            1000 + 100 * round,
                            devices,
                            editsPerDevice,
                            batchMax);
                    long total = measured.stream()
                            .mapToLong(IngestBench.Device::changes)
                            .sum();
                    IngestBench.quiesce(url);
                    double[] cpuBefore = cpu(replicas);
                    double pgBefore = BenchSupport.postgresCpuSeconds();
                    long walBefore = IngestBench.wal(url)[0];
                    long start = System.nanoTime();
                    pushAll(links, measured, pool);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    double[] cpuAfter = cpu(replicas);
                    double pgCpu = BenchSupport.postgresCpuSeconds() - pgBefore;
                    long wal = IngestBench.wal(url)[0] - walBefore;
                    double serviceCpu = 0;
                    StringBuilder each = new StringBuilder();
                    for (int r = 0; r < n; r++) {
                        double c = cpuAfter[r] - cpuBefore[r];
                        serviceCpu += c;
                        each.append(String.format(Locale.ROOT, " %.1f", c));
                    }
                    System.out.printf(
                            Locale.ROOT,
                            "replicas=%d round %d: %.0f changes/s, wall %.1f s, cpu per replica (s):%s,"
                                    + " service %.1f us/change, postgres %.1f us/change, wal %.0f bytes/change%n",
                            n,
                            round,
                            total / seconds,
                            seconds,
                            each,
                            serviceCpu * 1e6 / total,
                            pgCpu * 1e6 / total,
                            (double) wal / total);
                    rounds.add(new double[] {
                        total / seconds, serviceCpu * 1e6 / total, pgCpu * 1e6 / total, (double) wal / total
                    });
                }
                perSecond[n] = IngestBench.median(rounds, 0);
                serviceCpuUs[n] = IngestBench.median(rounds, 1);
                postgresCpuUs[n] = IngestBench.median(rounds, 2);
                walBytes[n] = IngestBench.median(rounds, 3);
            } finally {
                pool.shutdown();
                for (ServiceProcess s : replicas) {
                    s.close();
                }
                pg.close();
            }
        }
        System.out.printf(
                Locale.ROOT,
                "devices=%d edits_per_device=%d batches_of=%d; 2 cores shared by the replicas, PostgreSQL and the"
                        + " devices%n",
                devices,
                editsPerDevice,
                batchMax);
        System.out.printf(
                Locale.ROOT,
                "RESULT name=scale changes_per_s_1=%.0f changes_per_s_2=%.0f changes_per_s_3=%.0f"
                        + " service_cpu_us_per_change_1=%.1f service_cpu_us_per_change_3=%.1f"
                        + " postgres_cpu_us_per_change_1=%.1f postgres_cpu_us_per_change_3=%.1f wal_bytes_per_change=%.0f"
                        + " ratio=%.3f%n",
                perSecond[1],
                perSecond[2],
                perSecond[3],
                serviceCpuUs[1],
                serviceCpuUs[3],
                postgresCpuUs[1],
                postgresCpuUs[3],
                walBytes[1],
                perSecond[3] / perSecond[1]);
    }

    private static double[] cpu(List<ServiceProcess> replicas) throws Exception {
        double[] out = new double[replicas.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = BenchSupport.cpuOf(replicas.get(i).pid());
        }
        return out;
    }

    /** Every device pushes its batches one after another, all at once; device {@code d} through replica d mod n. */
    private static void pushAll(List<BenchSupport> replicas, List<IngestBench.Device> devices, ExecutorService pool)
            throws Exception {
        List<Future<?>> work = new ArrayList<>();
        for (int d = 0; d < devices.size(); d++) {
            IngestBench.Device device = devices.get(d);
            BenchSupport via = replicas.get(d % replicas.size());
            work.add(pool.submit(() -> {
                for (byte[] request : device.requests()) {
                    via.sync(device.token(), request);
                }
                return null;
            }));
        }
        for (Future<?> f : work) {
            f.get();
        }
    }
}
