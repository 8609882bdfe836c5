package dev.outpost.sync.bench;

import dev.outpost.model.artifact.SyntheticWeights;
import dev.outpost.sync.auth.Tokens;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench/run checkins [DEVICES] [SECONDS]}: light check-ins ({@code GET /v1/device/assignments}: credential
 * lookup, the device's wave under an active rollout, a signed assignment) per second and their p99 latency, with
 * DEVICES registered devices (default 10,000) and a running rollout. The load comes from {@code wrk} (Debian's
 * package; a C client, so the 2 cores go to the service and PostgreSQL, not to the load generator). Baseline in the
 * same run, from the same client: {@code GET /q/health/live}, the cheapest answer the service gives.
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

            String base = bench.service.uri("").toString();
            run(work, base, "/q/health/live", null, 3);
            double[] health = run(work, base, "/q/health/live", null, seconds);
            run(work, base, "/v1/device/assignments", tokens, 3);
            double[] checkins = run(work, base, "/v1/device/assignments", tokens, seconds);
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

    /**
     * Requests per second and p99 latency (ms) of {@code wrk} (CLIENTS connections on 2 threads, keep-alive) on
     * {@code path} for {@code seconds}; with {@code tokens}, each request carries a random device's credential.
     */
    private static double[] run(Path work, String base, String path, String[] tokens, int seconds) throws Exception {
        List<String> cmd = new ArrayList<>(
                List.of("wrk", "-t2", "-c" + CLIENTS, "-d" + seconds + "s", "--latency", "--timeout", "5s"));
        if (tokens != null) {
            Path list = work.resolve("checkin-tokens.txt");
            Files.write(list, Arrays.asList(tokens));
            Path script = work.resolve("checkins.lua");
            Files.writeString(script, """
                    local threads = 0
                    setup = function(thread)
                      threads = threads + 1
                      thread:set("seed", threads)
                    end
                    local tokens = {}
                    init = function(args)
                      for line in io.lines(args[1]) do tokens[#tokens + 1] = "Bearer " .. line end
                      math.randomseed(os.time() + seed * 7919)
                    end
                    request = function()
                      return wrk.format("GET", nil, {Authorization = tokens[math.random(#tokens)]})
                    end
                    """);
            cmd.addAll(List.of("-s", script.toString()));
        }
        cmd.add(base.replaceAll("/$", "") + path);
        if (tokens != null) {
            cmd.addAll(List.of("--", work.resolve("checkin-tokens.txt").toString()));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0 || out.contains("Non-2xx") || out.contains("Socket errors")) {
            throw new IllegalStateException("wrk on " + path + " failed:\n" + out);
        }
        Matcher rate = Pattern.compile("Requests/sec:\\s+([\\d.]+)").matcher(out);
        Matcher p99 = Pattern.compile("\\s99%\\s+([\\d.]+)(us|ms|s)").matcher(out);
        if (!rate.find() || !p99.find()) {
            throw new IllegalStateException("unexpected wrk output:\n" + out);
        }
        double ms = Double.parseDouble(p99.group(1))
                * switch (p99.group(2)) {
                    case "us" -> 0.001;
                    case "ms" -> 1;
                    default -> 1000;
                };
        return new double[] {Double.parseDouble(rate.group(1)), ms};
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
