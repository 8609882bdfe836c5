package dev.outpost.sync.bench;

import dev.outpost.model.artifact.RetrainedModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench/run model-update retrained [WIDTH] [DEPTH] [FINE_TUNE_STEPS] [SEED]}: retrained model pairs
 * ({@link RetrainedModels}: an MLP trained, then fine-tuned with Adam on shifted data) in float32, float16, bfloat16
 * and int8 safetensors. For each, the real device binary installs v1 and then updates to v2 against the real service;
 * measured: bytes it downloads for the update (manifest, delta index, deltas, chunks), its peak RSS (GNU time) and
 * the apply rate it reports (three devices make the update after the service has served {@link #WARM_UPDATES}: the
 * median rate, the largest peak). Baselines in the same run on the same pairs: {@code zstd -19 --long=31 --patch-from}
 * and {@code xdelta3 -9}. The RESULT line is the float32 pair's, with every precision's ratio after it.
 */
public final class RetrainedUpdateBench {
    private static final Pattern BYTES = Pattern.compile("\\((\\d+) bytes\\) of ([0-9.]+) MB");
    private static final Pattern APPLY_SECONDS = Pattern.compile("\\(([0-9.]+) s\\)$");

    /** Devices that each make the measured update. */
    private static final int MEASURED_DEVICES = 3;

    /**
     * Updates the service serves before the measured ones, as a rollout's earlier devices would: the first makes it
     * compute the deltas, the others (copies of one device at v1) warm up its JIT, which shares this machine's two
     * cores with the device. Measured by hand (session 25, 42.5 MB float16, a fresh service, 40 updates in a row):
     * the service and its PostgreSQL spent 0.27-0.45 s of CPU on each of updates 1-11, 0.13-0.33 s on 12-25 and
     * 0.04-0.25 s on 26-40; the device's update took 0.61-0.74 s, 0.50-0.65 s and 0.42-0.60 s. In the field one
     * service serves a whole fleet, on a machine of its own.
     */
    private static final int WARM_UPDATES = 30;

    private RetrainedUpdateBench() {}

    record Outcome(String precision, long size, long bytes, long zstd, long xdelta, double rssMb, double applyMbPerS) {
        long best() {
            return Math.min(zstd, xdelta);
        }

        double ratio() {
            return (double) bytes / best();
        }
    }

    public static void main(String[] args) throws Exception {
        // 6 hidden layers of 2048: 25 M weights, 85 MB in float32, the pair trained once in about 5 minutes. Models
        // reach the field at hundreds of MB; on a 13 MB one (1024 4) the apply rate measures the process warming up.
        int width = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        int depth = args.length > 1 ? Integer.parseInt(args[1]) : 6;
        int fineTuneSteps = args.length > 2 ? Integer.parseInt(args[2]) : 100;
        long seed = args.length > 3 ? Long.parseLong(args[3]) : 1;
        Path outpost = Path.of("../device-runtime/target/outpost").toAbsolutePath();
        Path work = Files.createDirectories(Path.of("target/bench/model-update-retrained"));
        // The pairs are kept by their recipe: training takes a minute or more, and the same recipe makes the same
        // files.
        Path pairs = work.resolve("w" + width + "-d" + depth + "-ft" + fineTuneSteps + "-s" + seed);
        if (!Files.exists(pairs.resolve("i8-v2.safetensors"))) {
            RetrainedModels.main(
                    new String[] {pairs.toString(), "" + width, "" + depth, "" + fineTuneSteps, "" + seed});
        }
        List<Outcome> outcomes = new ArrayList<>();
        Path homes = Files.createTempDirectory("outpost-retrained-bench");
        BenchSupport bench = BenchSupport.start(work.resolve("service.log"), "-XX:+UseSerialGC", "-Xmx1g");
        try {
            for (RetrainedModels.Precision p : RetrainedModels.Precision.values()) {
                String name = p.name().toLowerCase(Locale.ROOT);
                Path v1 = pairs.resolve(name + "-v1.safetensors");
                Path v2 = pairs.resolve(name + "-v2.safetensors");
                Path zstdPatch = work.resolve(name + ".patch.zst");
                ModelUpdateBench.zstdPatch(v1, v2, zstdPatch);
                Path xdelta = work.resolve(name + ".xdelta");
                ModelUpdateBench.xdelta(v1, v2, xdelta);

                String artifact = "mlp-" + name;
                ModelUpdateBench.upload(bench, artifact, 1, v1);
                ModelUpdateBench.upload(bench, artifact, 2, v2);
                ModelUpdateBench.desire(bench, artifact, 1);
                List<Path> warm =
                        atFirstVersion(bench, outpost, homes, "warm-" + name, 2, artifact, work.resolve("warm1.rss"));
                List<Path> devices = atFirstVersion(
                        bench, outpost, homes, "device-" + name, MEASURED_DEVICES, artifact, work.resolve("full.rss"));
                ModelUpdateBench.desire(bench, artifact, 2);
                // The first device to ask waits for the service's delta computation; copies of the second warm the
                // service up (WARM_UPDATES); then the measured ones ask.
                long t = System.nanoTime();
                ModelUpdateBench.update(outpost, warm.getFirst(), artifact, work.resolve("warm2.rss"));
                System.out.printf(
                        "%s: first update incl. the service's delta computation: %.1f s%n",
                        name, (System.nanoTime() - t) / 1e9);
                Path copy = homes.resolve("warm-" + name + "-copy");
                for (int u = 1; u < WARM_UPDATES; u++) {
                    ModelUpdateBench.run(List.of("cp", "-a", warm.getLast().toString(), copy.toString()));
                    String out = ModelUpdateBench.update(outpost, copy, artifact, work.resolve("warm2.rss"));
                    if (u % 10 == 0) {
                        System.out.println("warming the service (" + u + "): " + out);
                    }
                    ModelUpdateBench.run(List.of("rm", "-rf", copy.toString()));
                }
                // The measured update, on each of the devices that hold v1: the median apply time (this 2-core VM
                // varies 20-30% between identical runs), the largest peak RSS, and bytes that must be the same.
                List<Double> seconds = new ArrayList<>();
                double rss = 0;
                long bytes = -1;
                for (Path device : devices) {
                    String out = ModelUpdateBench.update(outpost, device, artifact, work.resolve("update.rss"));
                    System.out.println(out);
                    Matcher m = BYTES.matcher(out);
                    Matcher applied = APPLY_SECONDS.matcher(out.strip());
                    if (!m.find() || !applied.find()) {
                        throw new IllegalStateException("no byte count or apply time in: " + out);
                    }
                    if (bytes >= 0 && bytes != Long.parseLong(m.group(1))) {
                        throw new IllegalStateException("two devices downloaded different byte counts: " + out);
                    }
                    bytes = Long.parseLong(m.group(1));
                    seconds.add(Double.parseDouble(applied.group(1)));
                    rss = Math.max(rss, ModelUpdateBench.peakRssMb(work.resolve("update.rss")));
                }
                seconds.sort(null);
                Outcome o = new Outcome(
                        name,
                        Files.size(v2),
                        bytes,
                        Files.size(zstdPatch),
                        Files.size(xdelta),
                        rss,
                        Files.size(v2) / 1e6 / seconds.get(seconds.size() / 2));
                outcomes.add(o);
                System.out.printf(
                        "%s: %d bytes of %d; zstd --patch-from %d, xdelta3 %d: ratio %.3f; peak RSS %.0f MB;"
                                + " apply %.0f MB/s%n",
                        name, o.bytes(), o.size(), o.zstd(), o.xdelta(), o.ratio(), o.rssMb(), o.applyMbPerS());
            }
        } finally {
            bench.stop();
        }
        Outcome f32 = outcomes.getFirst();
        StringBuilder others = new StringBuilder();
        for (Outcome o : outcomes.subList(1, outcomes.size())) {
            others.append(String.format(
                    Locale.ROOT,
                    " %s_bytes=%d %s_best_tool_bytes=%d %s_ratio=%.3f",
                    o.precision(),
                    o.bytes(),
                    o.precision(),
                    o.best(),
                    o.precision(),
                    o.ratio()));
        }
        System.out.printf(
                Locale.ROOT,
                "RESULT name=model-update-retrained bytes=%d best_tool_bytes=%d ratio=%.3f peak_rss_mb=%.0f"
                        + " apply_mb_per_s=%.0f size_mb=%.1f%s max_peak_rss_mb=%.0f min_apply_mb_per_s=%.0f%n",
                f32.bytes(),
                f32.best(),
                f32.ratio(),
                f32.rssMb(),
                f32.applyMbPerS(),
                f32.size() / 1e6,
                others,
                outcomes.stream().mapToDouble(Outcome::rssMb).max().orElseThrow(),
                outcomes.stream().mapToDouble(Outcome::applyMbPerS).min().orElseThrow());
    }
    /** {@code count} devices named {@code prefix-N}, registered and initialised, each with version 1 installed. */
    private static List<Path> atFirstVersion(
            BenchSupport bench, Path outpost, Path homes, String prefix, int count, String artifact, Path rss)
            throws Exception {
        String url = bench.service.uri("").toString();
        List<Path> devices = new ArrayList<>();
        for (int d = 0; d < count; d++) {
            Path device = ModelUpdateBench.init(
                    outpost, homes.resolve(prefix + "-" + d), url, bench.register(prefix + "-" + d, "nakuru"));
            ModelUpdateBench.update(outpost, device, artifact, rss);
            devices.add(device);
        }
        return devices;
    }
}
