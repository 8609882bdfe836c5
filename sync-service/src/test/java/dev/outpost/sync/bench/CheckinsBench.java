package dev.outpost.sync.bench;

import dev.outpost.model.artifact.SyntheticWeights;
import dev.outpost.sync.auth.Tokens;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code bench/run checkins [DEVICES] [SECONDS]}: light check-ins ({@code GET /v1/device/assignments}: credential
 * lookup, the device's wave under an active rollout, a signed assignment) per second and their p99 latency, with
 * DEVICES registered devices (default 10,000) and a running rollout. Baseline in the same run, from the same client:
 * {@code GET /q/health/live}, the cheapest answer the service gives.
 */
public final class CheckinsBench {
    private static final int CLIENTS = 32;

    private CheckinsBench() {}

    public static void main(String[] args) throws Exception {
        int devices = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        Path work = Files.createDirectories(Path.of("target/bench"));
        BenchSupport bench = BenchSupport.start(work.resolve("checkins-service.log"), "-XX:+UseParallelGC", "-Xmx1g");
        try {
            send(bench, "PUT", "/v1/admin/artifacts/pests/versions/1", SyntheticWeights.bytes(1, 1 << 20, false), 201);
            send(bench, "PUT", "/v1/admin/artifacts/pests/versions/2", SyntheticWeights.bytes(1, 1 << 20, true), 201);
            send(bench, "POST", "/v1/admin/artifacts/pests/desired", "{\"version\": 1}".getBytes(), 200);
            // Devices go straight into the table (the registration API would take minutes and is not measured).
            String[] tokens = new String[devices];
            try (Connection c = DriverManager.getConnection(
                            "jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres",
                            "postgres",
                            "postgres");
                    PreparedStatement ps =
                            c.prepareStatement("insert into device (id, token_hash, scopes) values (?, ?, ?)")) {
                for (int i = 0; i < devices; i++) {
                    tokens[i] = Tokens.newToken();
                    ps.setString(1, "tablet-" + i);
                    ps.setBytes(2, Tokens.hash(tokens[i]));
                    ps.setArray(3, c.createArrayOf("text", new String[] {"nakuru"}));
                    ps.addBatch();
                    if (i % 1000 == 999) {
                        ps.executeBatch();
                    }
                }
                ps.executeBatch();
            }
            String rollout = new String(send(
                    bench,
                    "POST",
                    "/v1/admin/rollouts",
                    "{\"artifact\": \"pests\", \"version\": 2, \"scopes\": [\"nakuru\"], \"waves\": [10, 50, 100]}"
                            .getBytes(),
                    201));
            String id = rollout.replaceAll("^\\{\"id\":(\\d+).*$", "$1");
            send(bench, "POST", "/v1/admin/rollouts/" + id + "/start", new byte[0], 200);

            HttpClient http =
                    HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            String base = bench.service.uri("").toString();
            run(http, base, "/q/health/live", null, 3);
            double[] health = run(http, base, "/q/health/live", null, seconds);
            run(http, base, "/v1/device/assignments", tokens, 3);
            double[] checkins = run(http, base, "/v1/device/assignments", tokens, seconds);
            System.out.printf(
                    "health: %.0f/s p99 %.1f ms; check-ins: %.0f/s p99 %.1f ms (%d devices, %d clients)%n",
                    health[0], health[1], checkins[0], checkins[1], devices, CLIENTS);
            System.out.printf(
                    "RESULT name=checkins checkins_per_s=%.0f p99_ms=%.1f baseline_per_s=%.0f ratio=%.3f devices=%d%n",
                    checkins[0], checkins[1], health[0], checkins[0] / health[0], devices);
        } finally {
            bench.stop();
        }
    }

    /** Requests per second and p99 latency (ms) of CLIENTS clients hammering {@code path} for {@code seconds}. */
    private static double[] run(HttpClient http, String base, String path, String[] tokens, int seconds)
            throws Exception {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        List<Future<long[]>> work = new ArrayList<>();
        for (int t = 0; t < CLIENTS; t++) {
            work.add(pool.submit(() -> {
                long[] lat = new long[1 << 16];
                int n = 0;
                while (System.nanoTime() < end) {
                    HttpRequest.Builder b =
                            HttpRequest.newBuilder(java.net.URI.create(base.replaceAll("/$", "") + path));
                    if (tokens != null) {
                        b.header(
                                "Authorization",
                                "Bearer " + tokens[ThreadLocalRandom.current().nextInt(tokens.length)]);
                    }
                    long t0 = System.nanoTime();
                    HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
                    long took = System.nanoTime() - t0;
                    if (r.statusCode() != 200) {
                        throw new IllegalStateException(path + " answered " + r.statusCode());
                    }
                    if (n == lat.length) {
                        lat = Arrays.copyOf(lat, n * 2);
                    }
                    lat[n++] = took;
                }
                return Arrays.copyOf(lat, n);
            }));
        }
        List<long[]> all = new ArrayList<>();
        for (Future<long[]> f : work) {
            all.add(f.get());
        }
        pool.shutdown();
        long[] merged = all.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        return new double[] {merged.length / (double) seconds, merged[(int) (merged.length * 0.99)] / 1e6};
    }

    private static byte[] send(BenchSupport bench, String method, String path, byte[] body, int expected)
            throws Exception {
        HttpResponse<byte[]> r = bench.http.send(
                HttpRequest.newBuilder(bench.service.uri(path))
                        .header("Authorization", "Bearer " + BenchSupport.ADMIN)
                        .header("Content-Type", method.equals("PUT") ? "application/octet-stream" : "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(body))
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != expected) {
            throw new IllegalStateException(method + " " + path + ": " + r.statusCode() + " " + new String(r.body()));
        }
        return r.body();
    }
}
