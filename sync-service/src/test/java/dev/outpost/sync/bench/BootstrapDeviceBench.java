package dev.outpost.sync.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code bench/run bootstrap-device}: a fresh device ({@code device-runtime/target/outpost}, the real one-file
 * binary) gets a district of ROWS farm rows with one {@code outpost sync}: first by the feed (the baseline, before any
 * snapshot exists), then, once the service has built the district's snapshot, a second fresh device from the
 * snapshot; wall time and peak RSS (GNU time) of each. The service runs as in {@code bench/run bootstrap}.
 */
public final class BootstrapDeviceBench {
    private BootstrapDeviceBench() {}

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        // "snapshot-only": no feed baseline and no RESULT line, for iterating on the snapshot install.
        boolean snapshotOnly = args.length > 1 && args[1].equals("snapshot-only");
        Path outpost = Path.of("../device-runtime/target/outpost").toAbsolutePath();
        Path work = Files.createDirectories(Path.of("target/bench"));
        Path home = Files.createTempDirectory("outpost-bootstrap-device");
        BenchSupport bench =
                BenchSupport.start(work.resolve("bootstrap-device-service.log"), "-XX:+UseSerialGC", "-Xmx512m");
        try {
            BootstrapBench.seed(bench, rows);
            // The baseline: no snapshot yet, the device replays the district's feed.
            Measured feed = snapshotOnly ? null : firstSync(bench, outpost, home, work, "feed-tablet", "");
            long buildStart = System.nanoTime();
            bench.adminPost("/v1/admin/snapshots");
            double buildSeconds = (System.nanoTime() - buildStart) / 1e9;
            if (snapshotOnly) {
                // For comparing device JVM settings on one seeded service: OUTPOST_BENCH_JVM_VARIANTS holds
                // JAVA_TOOL_OPTIONS strings separated by ';' (an empty one: the binary as it is), each run
                // OUTPOST_BENCH_ROUNDS times (default 1), alternating.
                String[] variants = System.getenv()
                        .getOrDefault("OUTPOST_BENCH_JVM_VARIANTS", "")
                        .split(";", -1);
                int rounds = Integer.parseInt(System.getenv().getOrDefault("OUTPOST_BENCH_ROUNDS", "1"));
                for (int round = 0; round < rounds; round++) {
                    for (int v = 0; v < variants.length; v++) {
                        Measured m =
                                firstSync(bench, outpost, home, work, "fresh-tablet-" + round + "-" + v, variants[v]);
                        System.out.printf(
                                "snapshot [%s]: wall %.1f s, peak RSS %.0f MB, cpu device=%.1f%n",
                                variants[v], m.seconds, m.peakMb, m.cpu[0]);
                    }
                }
                return;
            }
            Measured snapshot = firstSync(bench, outpost, home, work, "fresh-tablet", "");
            System.out.printf(
                    "feed: wall %.1f s, peak RSS %.0f MB, cpu device=%.1f service=%.1f postgres=%.1f%n",
                    feed.seconds, feed.peakMb, feed.cpu[0], feed.cpu[1], feed.cpu[2]);
            System.out.printf(
                    "snapshot: built in %.1f s (service); wall %.1f s, peak RSS %.0f MB, cpu device=%.1f service=%.1f"
                            + " postgres=%.1f%n",
                    buildSeconds, snapshot.seconds, snapshot.peakMb, snapshot.cpu[0], snapshot.cpu[1], snapshot.cpu[2]);
            System.out.printf(
                    "RESULT name=bootstrap-device rows=%d wall_s=%.1f rows_per_s=%.0f peak_rss_mb=%.0f"
                            + " feed_wall_s=%.1f feed_peak_rss_mb=%.0f build_s=%.1f ratio=%.2f%n",
                    rows,
                    snapshot.seconds,
                    rows / snapshot.seconds,
                    snapshot.peakMb,
                    feed.seconds,
                    feed.peakMb,
                    buildSeconds,
                    feed.seconds / snapshot.seconds);
        } finally {
            bench.stop();
        }
    }

    private record Measured(double seconds, double peakMb, double[] cpu) {}

    /**
     * {@code outpost init} then one {@code outpost sync} of a new device, its JVM given {@code jvmOptions} (as
     * JAVA_TOOL_OPTIONS; empty for none): its wall time, peak RSS and CPU.
     */
    private static Measured firstSync(
            BenchSupport bench, Path outpost, Path home, Path work, String id, String jvmOptions) throws Exception {
        String url = bench.service.uri("").toString();
        Path dir = home.resolve(id);
        run(
                List.of(
                        outpost.toString(),
                        "--home",
                        dir.toString(),
                        "init",
                        "--server",
                        url,
                        "--device-id",
                        id,
                        "--token",
                        bench.register(id, "nakuru")),
                null,
                "");
        Path rss = home.resolve(id + ".rss");
        double[] cpuBefore = bench.cpuSeconds();
        long start = System.nanoTime();
        run(
                List.of(
                        "/usr/bin/time",
                        "-o",
                        rss.toString(),
                        "-f",
                        "%M %U %S",
                        outpost.toString(),
                        "--home",
                        dir.toString(),
                        "sync"),
                work.resolve("bootstrap-device-" + id + ".log"),
                jvmOptions);
        double seconds = (System.nanoTime() - start) / 1e9;
        double[] cpuAfter = bench.cpuSeconds();
        String[] measured = Files.readAllLines(rss).getLast().trim().split(" ");
        // Where the time goes: device, service and PostgreSQL share the 2 cores.
        return new Measured(seconds, Long.parseLong(measured[0]) / 1024.0, new double[] {
            Double.parseDouble(measured[1]) + Double.parseDouble(measured[2]),
            cpuAfter[0] - cpuBefore[0],
            cpuAfter[1] - cpuBefore[1]
        });
    }

    private static void run(List<String> command, Path log, String jvmOptions) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (!jvmOptions.isEmpty()) {
            pb.environment().put("JAVA_TOOL_OPTIONS", jvmOptions);
        }
        pb.redirectOutput(log == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.to(log.toFile()));
        Process p = pb.start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command.subList(0, Math.min(3, command.size())))
                    + " failed (exit " + p.exitValue() + ")");
        }
    }
}
