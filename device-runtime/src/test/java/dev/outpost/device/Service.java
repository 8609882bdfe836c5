package dev.outpost.device;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The real sync service (packaged by the sync-service module) with its own embedded PostgreSQL, as a process. */
final class Service implements AutoCloseable {
    static final Path JAR = Path.of("../sync-service/target/quarkus-app/quarkus-run.jar");
    static final String ADMIN = "e2e-admin";
    private static final Pattern TOKEN = Pattern.compile("\"token\":\"([^\"]+)\"");

    final String url;
    private final Process process;
    private final int managementPort;
    private final HttpClient http = HttpClient.newHttpClient();

    private Service(Process process, String url, int managementPort) {
        this.process = process;
        this.url = url;
        this.managementPort = managementPort;
    }

    static Service start(Path dir) throws IOException, InterruptedException {
        return start(dir, freePort());
    }

    /**
     * Attempts at starting when the process exits before it is ready. The port this class picks is free when picked,
     * but the service's embedded PostgreSQL picks its own port the same way a moment later and may be handed the same
     * number; the service then cannot listen and exits. A second attempt gets another PostgreSQL port. A service that
     * exits every time fails the test with the end of its log.
     */
    private static final int START_ATTEMPTS = 3;

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Starts the service on {@code port} with its data in {@code dir} (a restart on the same dir keeps the data). */
    static Service start(Path dir, int port) throws IOException, InterruptedException {
        return start(dir, port, Map.of());
    }

    /** As {@link #start(Path, int)}, with {@code env} added to the service's environment (its configuration). */
    static Service start(Path dir, int port, Map<String, String> env) throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            Service s = startOnce(dir, port, env);
            if (s != null) {
                return s;
            }
            if (attempt == START_ATTEMPTS) {
                List<String> log = Files.readAllLines(dir.resolve("service.log"));
                throw new IllegalStateException("the service exited " + START_ATTEMPTS + " times before it was ready;"
                        + " the end of its log:\n"
                        + String.join("\n", log.subList(Math.max(0, log.size() - 40), log.size())));
            }
        }
    }

    /** Starts the service once; null when the process exited before it was ready. */
    private static Service startOnce(Path dir, int port, Map<String, String> env)
            throws IOException, InterruptedException {
        if (!Files.exists(JAR)) {
            throw new IllegalStateException("build the sync service first: " + JAR.toAbsolutePath() + " is missing");
        }
        Files.createDirectories(dir);
        ProcessBuilder pb = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString());
        pb.environment().remove("QUARKUS_DATASOURCE_REACTIVE_URL");
        pb.environment().remove("QUARKUS_DATASOURCE_JDBC_URL");
        pb.environment().put("OUTPOST_DB_DIR", dir.resolve("pgdata").toString());
        pb.environment().put("OUTPOST_ADMIN_TOKEN", ADMIN);
        pb.environment().put("OUTPOST_ARTIFACTS_DIR", dir.resolve("artifacts").toString());
        pb.environment().put("QUARKUS_HTTP_PORT", Integer.toString(port));
        int managementPort = freePort();
        pb.environment().put("QUARKUS_MANAGEMENT_PORT", Integer.toString(managementPort));
        if (!env.containsKey("OUTPOST_ARTIFACTS_SIGNING_KEY_PRIVATE")) {
            pb.environment().putAll(TestKeys.defaultServiceEnv());
        }
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        pb.redirectOutput(
                ProcessBuilder.Redirect.appendTo(dir.resolve("service.log").toFile()));
        Process p = pb.start();
        Service s = new Service(p, "http://localhost:" + port, managementPort);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                return null;
            }
            try {
                if (s.http.send(
                                        HttpRequest.newBuilder(URI.create(s.url + "/q/health/ready"))
                                                .build(),
                                        HttpResponse.BodyHandlers.discarding())
                                .statusCode()
                        == 200) {
                    return s;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        p.destroyForcibly();
        throw new IllegalStateException("the service did not start in 90 s");
    }

    /** Registers a device and returns its token. */
    String register(String deviceId, String... scopes) throws IOException, InterruptedException {
        String body = "{\"deviceId\": \"" + deviceId + "\", \"scopes\": [\"" + String.join("\", \"", scopes) + "\"]}";
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(url + "/v1/admin/devices"))
                        .header("Authorization", "Bearer " + ADMIN)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        Matcher m = TOKEN.matcher(r.body());
        if (r.statusCode() != 201 || !m.find()) {
            throw new IllegalStateException("registration failed: " + r.statusCode() + " " + r.body());
        }
        return m.group(1);
    }

    /**
     * Sets {@code d} up as device {@code id} of scope {@code nakuru}, registered here and given the test run's root key
     * (as an operator sets up a tablet for model updates), reaching the service at {@code server}: this one's
     * {@link #url}, or a proxy in front of it.
     */
    Outpost.Result initTrusting(Outpost d, String id, String server) throws IOException, InterruptedException {
        return d.run(
                "init",
                "--server",
                server,
                "--device-id",
                id,
                "--token",
                register(id, "nakuru"),
                "--root-key",
                TestKeys.rootKey());
    }

    /** Where the service keeps chunk and delta files (tests tamper with them). */
    static Path artifactsDir(Path dir) {
        return dir.resolve("artifacts");
    }

    /** Uploads a file as an artifact version, streamed. */
    void upload(String name, long version, Path file) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(url + "/v1/admin/artifacts/" + name + "/versions/" + version))
                        .header("Authorization", "Bearer " + ADMIN)
                        .header("Content-Type", "application/octet-stream")
                        .PUT(HttpRequest.BodyPublishers.ofFile(file))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("upload failed: " + r.statusCode() + " " + r.body());
        }
    }

    /** Makes {@code version} the one every device should run. */
    void desire(String name, long version) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(url + "/v1/admin/artifacts/" + name + "/desired"))
                        .header("Authorization", "Bearer " + ADMIN)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"version\": " + version + "}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("desire failed: " + r.statusCode() + " " + r.body());
        }
    }

    /** An admin call with a JSON body ({@code method} PUT, PATCH, POST, ...); the status and the answer's body. */
    HttpResponse<String> admin(String method, String path, String json) throws IOException, InterruptedException {
        return http.send(
                HttpRequest.newBuilder(URI.create(url + path))
                        .header("Authorization", "Bearer " + ADMIN)
                        .header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofString(json))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /**
     * The JDBC URL of the service's embedded PostgreSQL (as its log announces it) started in {@code dir}: what head
     * office's own tools connect to; {@link #office} signs in.
     */
    static String jdbcUrl(Path dir) throws IOException {
        Matcher m = Pattern.compile("embedded PostgreSQL on port (\\d+)")
                .matcher(Files.readString(dir.resolve("service.log")));
        String port = null;
        while (m.find()) {
            port = m.group(1); // the last start's
        }
        if (port == null) {
            throw new IllegalStateException("the service log names no embedded PostgreSQL port");
        }
        return "jdbc:postgresql://localhost:" + port + "/postgres";
    }

    /** A connection to that database as {@code postgres}, with the password the service generated for it. */
    static java.sql.Connection office(Path dir) throws IOException, java.sql.SQLException {
        String password = Files.readString(dir.resolve("pgdata.password")).strip();
        return java.sql.DriverManager.getConnection(jdbcUrl(dir), "postgres", password);
    }

    String admin(String path) throws IOException, InterruptedException {
        return http.send(
                        HttpRequest.newBuilder(URI.create(url + path))
                                .header("Authorization", "Bearer " + ADMIN)
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
    }

    /**
     * The sum of the samples of one metric in the service's Prometheus scrape ({@code outpost_sync_batches_total},
     * say); 0 when it has none yet.
     */
    double metric(String name) throws IOException, InterruptedException {
        String scrape = http.send(
                        HttpRequest.newBuilder(URI.create("http://localhost:" + managementPort + "/q/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
        double sum = 0;
        for (String line : scrape.split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** Whether the process still runs (a crash point may have halted it). */
    boolean alive() {
        return process.isAlive();
    }

    /** Kills the process with SIGKILL (as an OOM kill or a lost node would) and waits for it to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
