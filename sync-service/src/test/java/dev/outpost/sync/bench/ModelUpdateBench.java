package dev.outpost.sync.bench;

import dev.outpost.model.artifact.SyntheticWeights;
import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench/run model-update [MB]}: two seeded float32 weight files (v2 fine-tunes 5% of the blocks and inserts
 * 1% at an unaligned offset). The real device binary goes from v1 to v2 against the real service; measured: bytes
 * it downloads (everything: manifest, delta index, deltas, chunks), its peak RSS (GNU time) and wall time. Baselines
 * in the same run on the same pair: {@code zstd -19 --long=31 --patch-from} and {@code xdelta3 -9}, and the full
 * compressed download.
 */
public final class ModelUpdateBench {
    private static final Pattern BYTES = Pattern.compile("\\((\\d+) bytes\\) of ([0-9.]+) MB");
    private static final Pattern APPLY_SECONDS = Pattern.compile("\\(([0-9.]+) s\\)$");

    private ModelUpdateBench() {}

    public static void main(String[] args) throws Exception {
        long mb = args.length > 0 ? Long.parseLong(args[0]) : 200;
        Path outpost = Path.of("../device-runtime/target/outpost").toAbsolutePath();
        Path work = Files.createDirectories(Path.of("target/bench/model-update"));
        Path v1 = work.resolve("v1.bin");
        Path v2 = work.resolve("v2.bin");
        write(v1, mb << 20, false);
        write(v2, mb << 20, true);
        System.out.printf("weights: v1 %d bytes, v2 %d bytes%n", Files.size(v1), Files.size(v2));

        Path zstdPatch = work.resolve("v2.patch.zst");
        long t = System.nanoTime();
        zstdPatch(v1, v2, zstdPatch);
        double zstdSeconds = (System.nanoTime() - t) / 1e9;
        Path xdelta = work.resolve("v2.xdelta");
        t = System.nanoTime();
        xdelta(v1, v2, xdelta);
        double xdeltaSeconds = (System.nanoTime() - t) / 1e9;
        long zstdBytes = Files.size(zstdPatch);
        long xdeltaBytes = Files.size(xdelta);
        long best = Math.min(zstdBytes, xdeltaBytes);
        System.out.printf(
                "zstd --patch-from -19 --long=31: %d bytes (%.1f s); xdelta3 -9: %d bytes (%.1f s)%n",
                zstdBytes, zstdSeconds, xdeltaBytes, xdeltaSeconds);

        Path homes = Files.createTempDirectory("outpost-model-bench");
        BenchSupport bench = BenchSupport.start(work.resolve("service.log"), "-XX:+UseSerialGC", "-Xmx1g");
        try {
            String url = bench.service.uri("").toString();
            t = System.nanoTime();
            upload(bench, "weights", 1, v1);
            upload(bench, "weights", 2, v2);
            System.out.printf("uploads: %.1f s for both%n", (System.nanoTime() - t) / 1e9);
            desire(bench, "weights", 1);
            Path warm = init(outpost, homes.resolve("warm"), url, bench.register("warm-tablet", "nakuru"));
            Path device = init(outpost, homes.resolve("device"), url, bench.register("field-tablet", "nakuru"));
            t = System.nanoTime();
            String full = update(outpost, device, "weights", work.resolve("full.rss"));
            double fullSeconds = (System.nanoTime() - t) / 1e9;
            double fullRssMb = peakRssMb(work.resolve("full.rss"));
            System.out.printf(
                    "first install of v1 (full download): %.1f s, peak RSS %.0f MB, %s%n",
                    fullSeconds, fullRssMb, full);
            update(outpost, warm, "weights", work.resolve("warm1.rss"));

            desire(bench, "weights", 2);
            // The first device to ask makes the service compute the chunk-local deltas; timed apart.
            t = System.nanoTime();
            update(outpost, warm, "weights", work.resolve("warm2.rss"));
            System.out.printf(
                    "first v1->v2 update incl. server delta computation: %.1f s%n", (System.nanoTime() - t) / 1e9);

            t = System.nanoTime();
            String out = update(outpost, device, "weights", work.resolve("update.rss"));
            double seconds = (System.nanoTime() - t) / 1e9;
            double rssMb = peakRssMb(work.resolve("update.rss"));
            System.out.println(out);
            Matcher m = BYTES.matcher(out);
            if (!m.find()) {
                throw new IllegalStateException("no byte count in: " + out);
            }
            long bytes = Long.parseLong(m.group(1));
            Matcher applied = APPLY_SECONDS.matcher(out.strip());
            if (!applied.find()) {
                throw new IllegalStateException("no apply time in: " + out);
            }
            double applySeconds = Double.parseDouble(applied.group(1));
            double applyMbPerS = Files.size(v2) / 1e6 / applySeconds;
            double endToEndMbPerS = Files.size(v2) / 1e6 / seconds;
            System.out.printf(
                    "RESULT name=model-update bytes=%d best_tool_bytes=%d ratio=%.3f zstd_patch_bytes=%d"
                            + " xdelta3_bytes=%d full_download_mb=%s peak_rss_mb=%.0f full_install_peak_rss_mb=%.0f"
                            + " wall_s=%.2f apply_s=%.2f apply_mb_per_s=%.0f end_to_end_mb_per_s=%.0f%n",
                    bytes,
                    best,
                    (double) bytes / best,
                    zstdBytes,
                    xdeltaBytes,
                    m.group(2),
                    rssMb,
                    fullRssMb,
                    seconds,
                    applySeconds,
                    applyMbPerS,
                    endToEndMbPerS);
        } finally {
            bench.stop();
        }
    }

    /** The best whole-file baseline's first half: {@code zstd -19 --long=31 --patch-from=v1 v2 -o patch}. */
    static void zstdPatch(Path v1, Path v2, Path patch) throws Exception {
        run(List.of(
                "zstd", "-q", "-f", "-19", "--long=31", "--patch-from=" + v1, v2.toString(), "-o", patch.toString()));
    }

    /** The other half: {@code xdelta3 -9 -e -s v1 v2 patch}. */
    static void xdelta(Path v1, Path v2, Path patch) throws Exception {
        run(List.of("xdelta3", "-9", "-f", "-e", "-s", v1.toString(), v2.toString(), patch.toString()));
    }

    /** The peak RSS GNU time wrote (its %M, KB), in MB. */
    static double peakRssMb(Path timeOutput) throws Exception {
        return Long.parseLong(Files.readAllLines(timeOutput).getLast().trim()) / 1024.0;
    }

    static void write(Path file, long size, boolean v2) throws Exception {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            SyntheticWeights.write(out, 2026, size, v2);
        }
    }

    static void upload(BenchSupport bench, String name, long version, Path file) throws Exception {
        HttpResponse<String> r = bench.http.send(
                HttpRequest.newBuilder(bench.service.uri("/v1/admin/artifacts/" + name + "/versions/" + version))
                        .header("Authorization", "Bearer " + BenchSupport.ADMIN)
                        .PUT(HttpRequest.BodyPublishers.ofFile(file))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("upload: " + r.statusCode() + " " + r.body());
        }
        System.out.println("uploaded: " + r.body());
    }

    static void desire(BenchSupport bench, String artifact, long version) throws Exception {
        HttpResponse<String> r = bench.http.send(
                HttpRequest.newBuilder(bench.service.uri("/v1/admin/artifacts/" + artifact + "/desired"))
                        .header("Authorization", "Bearer " + BenchSupport.ADMIN)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"version\": " + version + "}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("desire: " + r.statusCode() + " " + r.body());
        }
    }

    static Path init(Path outpost, Path home, String url, String token) throws Exception {
        run(List.of(
                outpost.toString(),
                "--home",
                home.toString(),
                "init",
                "--server",
                url,
                "--device-id",
                home.getFileName() + "-tablet",
                "--token",
                token,
                "--root-key",
                BenchSupport.ROOT.publicBase64()));
        return home;
    }

    static String update(Path outpost, Path home, String artifact, Path rss) throws Exception {
        return run(List.of(
                "/usr/bin/time",
                "-o",
                rss.toString(),
                "-f",
                "%M",
                outpost.toString(),
                "--home",
                home.toString(),
                "model",
                "update",
                artifact));
    }

    static String run(List<String> command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }
}
