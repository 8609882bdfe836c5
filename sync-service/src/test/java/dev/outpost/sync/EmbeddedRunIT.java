package dev.outpost.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The README's run command: {@code java -jar quarkus-run.jar} with no database configured starts its own
 * PostgreSQL, and what it stored is still there after a restart. Runs the real packaged service as a process.
 */
class EmbeddedRunIT {
    private static final Path JAR = Path.of("target/quarkus-app/quarkus-run.jar");
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void theServiceStartsItsOwnDatabaseAndKeepsItsDataAcrossARestart() throws Exception {
        assertTrue(Files.exists(JAR), "package the service first (mvn package)");
        Path home = Files.createTempDirectory("outpost-embedded");
        int port = freePort();
        try {
            Process first = start(home, port);
            try {
                HttpResponse<String> created = http.send(
                        HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/admin/devices"))
                                .header("Authorization", "Bearer run-it-admin")
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(
                                        "{\"deviceId\": \"persisted-1\", \"scopes\": [\"nakuru\"]}"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(201, created.statusCode(), created.body());
            } finally {
                stop(first);
            }
            Process second = start(home, port);
            try {
                HttpResponse<String> listed = http.send(
                        HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/admin/devices"))
                                .header("Authorization", "Bearer run-it-admin")
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, listed.statusCode());
                assertTrue(
                        listed.body().contains("persisted-1"),
                        "the device registered before the restart is gone: " + listed.body());
            } finally {
                stop(second);
            }
        } finally {
            try (var files = Files.walk(home)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private Process start(Path home, int port) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString());
        pb.environment().remove("QUARKUS_DATASOURCE_REACTIVE_URL");
        pb.environment().remove("QUARKUS_DATASOURCE_JDBC_URL");
        pb.environment().put("OUTPOST_DB_DIR", home.resolve("pgdata").toString());
        pb.environment().put("QUARKUS_HTTP_PORT", Integer.toString(port));
        pb.environment().put("OUTPOST_ADMIN_TOKEN", "run-it-admin");
        pb.redirectErrorStream(true);
        pb.redirectOutput(home.resolve("service-" + System.nanoTime() + ".log").toFile());
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("the service exited with " + p.exitValue());
            }
            try {
                var r = http.send(
                        HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/health/ready"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return p;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        p.destroyForcibly();
        throw new AssertionError("the service did not become ready in 90 s");
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy(); // SIGTERM: Quarkus shuts down, then the embedded PostgreSQL stops
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the service did not stop within 60 s of SIGTERM");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
