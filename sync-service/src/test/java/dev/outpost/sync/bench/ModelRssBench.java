package dev.outpost.sync.bench;

import static dev.outpost.sync.bench.ModelUpdateBench.desire;
import static dev.outpost.sync.bench.ModelUpdateBench.init;
import static dev.outpost.sync.bench.ModelUpdateBench.peakRssMb;
import static dev.outpost.sync.bench.ModelUpdateBench.update;
import static dev.outpost.sync.bench.ModelUpdateBench.upload;
import static dev.outpost.sync.bench.ModelUpdateBench.write;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code bench/run model-rss [MB...]}: does the device's memory depend on the model's size? For each size (default
 * 200, 1024 and 2048 MB) the same seeded pair as {@code model-update} is uploaded as its own artifact, and a fresh
 * device installs v1 (a full download) and then updates to v2, each under GNU time. The baseline is the smallest
 * size: {@code ratio} is the largest peak over the smallest one's (1.0 when memory does not grow with the file).
 * No zstd or xdelta3 baseline here; {@code model-update} measures bytes.
 */
public final class ModelRssBench {
    private ModelRssBench() {}

    public static void main(String[] args) throws Exception {
        List<Long> sizes = new ArrayList<>();
        for (String a : args) {
            sizes.add(Long.parseLong(a));
        }
        if (sizes.isEmpty()) {
            sizes = List.of(200L, 1024L, 2048L);
        }
        Path outpost = Path.of("../device-runtime/target/outpost").toAbsolutePath();
        Path work = Files.createDirectories(Path.of("target/bench/model-rss"));
        Path homes = Files.createTempDirectory("outpost-model-rss");
        List<double[]> peaks = new ArrayList<>();
        BenchSupport bench = BenchSupport.start(work.resolve("service.log"), "-XX:+UseSerialGC", "-Xmx1g");
        try {
            String url = bench.service.uri("").toString();
            for (long mb : sizes) {
                String artifact = "weights-" + mb;
                for (int version = 1; version <= 2; version++) {
                    Path file = work.resolve("v" + version + ".bin");
                    write(file, mb << 20, version == 2);
                    upload(bench, artifact, version, file);
                    Files.delete(file); // the service holds it now; 2 GB pairs need not stay twice on disk
                }
                desire(bench, artifact, 1);
                Path home = init(outpost, homes.resolve(artifact), url, bench.register(artifact + "-tablet", "nakuru"));
                update(outpost, home, artifact, work.resolve("full.rss"));
                double full = peakRssMb(work.resolve("full.rss"));
                desire(bench, artifact, 2);
                String out = update(outpost, home, artifact, work.resolve("update.rss"));
                double updated = peakRssMb(work.resolve("update.rss"));
                System.out.printf("%d MB: full install %.1f MB, update %.1f MB (%s)%n", mb, full, updated, out);
                peaks.add(new double[] {full, updated});
                ModelUpdateBench.run(List.of("rm", "-rf", home.resolve("models").toString()));
            }
        } finally {
            bench.stop();
        }
        double first = Math.max(peaks.getFirst()[0], peaks.getFirst()[1]);
        double max = peaks.stream().mapToDouble(p -> Math.max(p[0], p[1])).max().orElseThrow();
        System.out.printf(
                "RESULT name=model-rss sizes_mb=%s full_install_peak_rss_mb=%s update_peak_rss_mb=%s"
                        + " peak_rss_mb=%.1f smallest_peak_rss_mb=%.1f ratio=%.3f%n",
                sizes.stream().map(String::valueOf).collect(Collectors.joining(",")),
                peaks.stream().map(p -> String.format("%.1f", p[0])).collect(Collectors.joining(",")),
                peaks.stream().map(p -> String.format("%.1f", p[1])).collect(Collectors.joining(",")),
                max,
                first,
                max / first);
    }
}
