package dev.outpost.sync.bench;

import dev.outpost.sync.DatabaseFingerprint;
import dev.outpost.sync.HostileRequests;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code bench/run fuzz [REQUESTS] [SEED]}: the hostile input of {@code HostileInputIT}, longer, against the packaged
 * service (its payload limit set to 1 MiB so oversized bodies stay cheap to send). Counts answers that are not clean
 * refusals (any 5xx among them) and compares the database's fingerprint before and after.
 */
public final class FuzzBench {
    private FuzzBench() {}

    public static void main(String[] args) throws Exception {
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime();
        Path work = Files.createDirectories(Path.of("target/bench"));
        BenchSupport bench = BenchSupport.start(
                work.resolve("fuzz-service.log"),
                "-XX:+UseSerialGC",
                "-Xmx512m",
                "-Doutpost.sync.payload-bytes-max=1048576");
        try (Connection sql = DriverManager.getConnection(
                "jdbc:postgresql://localhost:" + bench.postgres.getPort() + "/postgres", "postgres", "postgres")) {
            String token = bench.register("fuzz-tablet", "nakuru");
            HostileRequests generator = new HostileRequests(seed, "fuzz-tablet", token, BenchSupport.ADMIN, 1_048_576);
            String before = fingerprint(sql);
            Map<Integer, Integer> statuses = new TreeMap<>();
            List<String> failures = new ArrayList<>();
            int serverErrors = 0;
            int unclean = 0;
            String host = bench.service.uri("").getHost();
            int port = bench.service.uri("").getPort();
            long start = System.nanoTime();
            for (int i = 0; i < requests; i++) {
                HostileRequests.Raw r = generator.next();
                HostileRequests.Answer a = HostileRequests.send(host, port, r);
                statuses.merge(a.status(), 1, Integer::sum);
                serverErrors += a.status() >= 500 ? 1 : 0;
                String why = HostileRequests.judge(r, a);
                if (why != null) {
                    unclean++;
                    if (failures.size() < 10) {
                        failures.add("#" + i + " " + why + ": " + r.describe() + " -> " + a.status());
                    }
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            int changed = before.equals(fingerprint(sql)) ? 0 : 1;
            System.out.println("seed " + seed + ", statuses " + statuses);
            failures.forEach(System.out::println);
            System.out.printf(
                    "RESULT name=fuzz requests=%d server_errors=%d unclean=%d db_changed=%d requests_per_s=%.0f%n",
                    requests, serverErrors, unclean, changed, requests / seconds);
        } finally {
            bench.stop();
        }
    }

    private static String fingerprint(Connection c) throws SQLException {
        StringBuilder out = new StringBuilder();
        List<String> tables = new ArrayList<>();
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(DatabaseFingerprint.TABLES)) {
            while (r.next()) {
                tables.add(r.getString("t"));
            }
        }
        for (String t : tables) {
            try (Statement s = c.createStatement();
                    ResultSet r = s.executeQuery(DatabaseFingerprint.digestOf(t))) {
                r.next();
                out.append(t).append('=').append(r.getString("d")).append(' ');
            }
        }
        return out.toString();
    }
}
