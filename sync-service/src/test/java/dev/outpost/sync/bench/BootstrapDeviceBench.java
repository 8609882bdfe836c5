package dev.outpost.sync.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code bench/run bootstrap-device}: a fresh device ({@code device-runtime/target/outpost}, the real one-file
 * binary) pulls a district of ROWS farm rows with one {@code outpost sync}; prints wall time and the device's
 * peak RSS (GNU time). The service runs as in {@code bench/run bootstrap}.
 */
public final class BootstrapDeviceBench {
    private BootstrapDeviceBench() {}

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        Path outpost = Path.of("../device-runtime/target/outpost").toAbsolutePath();
        Path work = Files.createDirectories(Path.of("target/bench"));
        Path home = Files.createTempDirectory("outpost-bootstrap-device");
        BenchSupport bench =
                BenchSupport.start(work.resolve("bootstrap-device-service.log"), "-XX:+UseSerialGC", "-Xmx512m");
        try {
            BootstrapBench.seed(bench, rows);
            String url = bench.service.uri("").toString();
            run(
                    List.of(
                            outpost.toString(),
                            "--home",
                            home.resolve("d").toString(),
                            "init",
                            "--server",
                            url,
                            "--device-id",
                            "fresh-tablet",
                            "--token",
                            bench.register("fresh-tablet", "nakuru")),
                    null);
            Path rss = home.resolve("rss");
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
                            home.resolve("d").toString(),
                            "sync"),
                    work.resolve("bootstrap-device-sync.log"));
            double seconds = (System.nanoTime() - start) / 1e9;
            double[] cpuAfter = bench.cpuSeconds();
            String[] measured = Files.readAllLines(rss).getLast().trim().split(" ");
            double peakMb = Long.parseLong(measured[0]) / 1024.0;
            // Where the time goes: device, service and PostgreSQL share the 2 cores.
            System.out.printf(
                    "cpu_seconds device=%.1f service=%.1f postgres=%.1f (wall %.1f s)%n",
                    Double.parseDouble(measured[1]) + Double.parseDouble(measured[2]),
                    cpuAfter[0] - cpuBefore[0],
                    cpuAfter[1] - cpuBefore[1],
                    seconds);
            System.out.printf(
                    "RESULT name=bootstrap-device rows=%d wall_s=%.1f rows_per_s=%.0f peak_rss_mb=%.0f%n",
                    rows, seconds, rows / seconds, peakMb);
        } finally {
            bench.stop();
        }
    }

    private static void run(List<String> command, Path log) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.redirectOutput(log == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.to(log.toFile()));
        Process p = pb.start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command.subList(0, Math.min(3, command.size())))
                    + " failed (exit " + p.exitValue() + ")");
        }
    }
}
