package dev.outpost.sync.bench;

import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import dev.outpost.sync.ServiceProcess;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the service benchmarks share: a real PostgreSQL, the packaged service, registration and sync calls. */
final class BenchSupport {
    static final String ADMIN = "bench-admin";
    /** The bench's root key: its services sign with a key it delegates; its devices are given it at init. */
    static final SigningKeys ROOT = SigningKeys.generate();

    static final WireCodec CODEC = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);
    private static final Pattern TOKEN = Pattern.compile("\"token\":\"([^\"]+)\"");

    final EmbeddedPostgres postgres;
    final ServiceProcess service;
    /**
     * HTTP/1.1, as devices speak it: concurrent requests go over separate connections, which the service spreads
     * over its event loops. (HTTP/2 would multiplex every simulated device over one connection and one event loop.)
     */
    final HttpClient http =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    BenchSupport(EmbeddedPostgres postgres, ServiceProcess service) {
        this.postgres = postgres;
        this.service = service;
    }

    static BenchSupport start(Path log, String... jvmOptions) throws Exception {
        EmbeddedPostgres pg = startPostgres();
        return new BenchSupport(pg, startService(pg, log, jvmOptions));
    }

    /** The benchmarks' PostgreSQL: sized for this machine's 24 GiB, the same for every benchmark. */
    static EmbeddedPostgres startPostgres() throws IOException {
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                .setServerConfig("shared_buffers", "256MB")
                .setServerConfig("max_connections", "100");
        // Extra server settings for profiling, e.g.
        // -Doutpost.bench.pg-config=shared_preload_libraries=pg_stat_statements
        for (String setting : System.getProperty("outpost.bench.pg-config", "").split(",")) {
            if (setting.contains("=")) {
                builder.setServerConfig(
                        setting.substring(0, setting.indexOf('=')), setting.substring(setting.indexOf('=') + 1));
            }
        }
        return builder.start();
    }

    /** The keys every service process of a run signs with: one online key, delegated by {@link #ROOT}. */
    private static final SigningKeys ONLINE = SigningKeys.generate();

    /**
     * Starts one service process (a replica: call again for more) on {@code pg}, its chunk store beside {@code log},
     * and waits until it is ready.
     */
    static ServiceProcess startService(EmbeddedPostgres pg, Path log, String... jvmOptions) throws Exception {
        Map<String, String> env = new java.util.HashMap<>();
        env.put("OUTPOST_ADMIN_TOKEN", ADMIN);
        env.put(
                "OUTPOST_ARTIFACTS_DIR",
                log.toAbsolutePath().getParent().resolve("artifacts").toString());
        env.put("QUARKUS_DATASOURCE_REACTIVE_URL", "postgresql://localhost:" + pg.getPort() + "/postgres");
        env.put("QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://localhost:" + pg.getPort() + "/postgres");
        env.put("QUARKUS_DATASOURCE_USERNAME", "postgres");
        env.put("QUARKUS_DATASOURCE_PASSWORD", "postgres");
        env.put("QUARKUS_LOG_LEVEL", "WARN");
        // Signed as in production: an online key the bench's root delegates (devices are given the root at init).
        long now = System.currentTimeMillis();
        env.put("OUTPOST_ARTIFACTS_SIGNING_KEY_PRIVATE", ONLINE.privateBase64());
        env.put("OUTPOST_ARTIFACTS_SIGNING_KEY_PUBLIC", ONLINE.publicBase64());
        env.put(
                "OUTPOST_ARTIFACTS_KEY_DELEGATION",
                java.util.Base64.getEncoder()
                        .encodeToString(new KeyDelegation(java.util.List.of(ONLINE.publicKey()), now, now + 86_400_000L)
                                .sign(ROOT)
                                .encode()));
        // Extra service JVM options for profiling, e.g. -Doutpost.bench.service-jvm=-XX:StartFlightRecording=...
        String extra = System.getProperty("outpost.bench.service-jvm", "");
        // Every simulated device and wrk's connections come from one address: per-address limits would measure the
        // limiter, not the service. (Devices in the field come from many.)
        java.util.List<String> options = new java.util.ArrayList<>(java.util.List.of("-Doutpost.limits.enabled=false"));
        options.addAll(java.util.List.of(jvmOptions));
        if (!extra.isBlank()) {
            options.addAll(java.util.List.of(extra.trim().split("\\s+")));
        }
        return ServiceProcess.start(env, log, options.toArray(new String[0]));
    }

    String register(String deviceId, String scope) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(service.uri("/v1/admin/devices"))
                        .header("Authorization", "Bearer " + ADMIN)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(
                                "{\"deviceId\": \"" + deviceId + "\", \"scopes\": [\"" + scope + "\"]}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        Matcher m = TOKEN.matcher(r.body());
        if (r.statusCode() != 201 || !m.find()) {
            throw new IllegalStateException("registration failed: " + r.statusCode() + " " + r.body());
        }
        return m.group(1);
    }

    /** An admin POST with no body; the answer's body (fails unless 200). */
    String adminPost(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(service.uri(path))
                        .header("Authorization", "Bearer " + ADMIN)
                        .POST(HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException(path + " answered " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }

    SyncResponse sync(String token, SyncRequest request) throws IOException, InterruptedException {
        return CODEC.decodeResponse(sync(token, CODEC.encode(request, WireFormat.BINARY)), WireFormat.BINARY);
    }

    /** One sync with a request already in the binary encoding; the binary answer, undecoded. */
    byte[] sync(String token, byte[] binaryRequest) throws IOException, InterruptedException {
        HttpResponse<byte[]> r = http.send(
                HttpRequest.newBuilder(service.uri("/v1/sync"))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", WireFormat.BINARY.mediaType())
                        .header("Accept", WireFormat.BINARY.mediaType())
                        .POST(HttpRequest.BodyPublishers.ofByteArray(binaryRequest))
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("sync answered " + r.statusCode() + ": " + new String(r.body()));
        }
        return r.body();
    }

    /** CPU seconds used so far by the service process and by all PostgreSQL processes: where the time goes. */
    double[] cpuSeconds() throws IOException {
        return new double[] {cpuOf(service.pid()), postgresCpuSeconds()};
    }

    /** CPU seconds used so far by all PostgreSQL processes. */
    static double postgresCpuSeconds() throws IOException {
        double postgres = 0;
        try (var procs = java.nio.file.Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(x -> x.getFileName().toString().matches("\\d+"))
                    .toList()) {
                try {
                    String cmd =
                            java.nio.file.Files.readString(p.resolve("comm")).trim();
                    if (cmd.startsWith("postgres")) {
                        postgres += cpuOf(Long.parseLong(p.getFileName().toString()));
                    }
                } catch (IOException | RuntimeException gone) {
                    // the process ended while we looked
                }
            }
        }
        return postgres;
    }

    /** CPU seconds one process used so far (utime + stime). */
    static double cpuOf(long pid) throws IOException {
        String stat = java.nio.file.Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime + stime, in clock ticks of 10 ms
    }

    void stop() throws Exception {
        service.close();
        postgres.close();
    }
}
