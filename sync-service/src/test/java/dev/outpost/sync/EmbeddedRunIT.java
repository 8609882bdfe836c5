package dev.outpost.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The README's run command: {@code java -jar quarkus-run.jar} with no database configured starts its own
 * PostgreSQL, and what it stored is still there after a restart. Runs the real packaged service as a process.
 */
class EmbeddedRunIT {
    private final HttpClient http = HttpClient.newHttpClient();

    /** Registers a device through the admin API (the break-glass token): a row that must outlive restarts. */
    private void register(ServiceProcess service, String deviceId) throws Exception {
        HttpResponse<String> created = http.send(
                HttpRequest.newBuilder(service.uri("/v1/admin/devices"))
                        .header("Authorization", "Bearer run-it-admin")
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(
                                "{\"deviceId\": \"" + deviceId + "\", \"scopes\": [\"nakuru\"]}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, created.statusCode(), created.body());
    }

    @Test
    void theServiceStartsItsOwnDatabaseAndKeepsItsDataAcrossARestart() throws Exception {
        Path home = Files.createTempDirectory("outpost-embedded");
        int dbPort;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            dbPort = free.getLocalPort();
        }
        Path pgdata = home.resolve("pgdata");
        Map<String, String> env = Map.of(
                "OUTPOST_DB_DIR",
                pgdata.toString(),
                "OUTPOST_DB_PORT",
                Integer.toString(dbPort),
                "OUTPOST_ADMIN_TOKEN",
                "run-it-admin");
        Path log = home.resolve("service.log");
        try {
            try (ServiceProcess first = ServiceProcess.start(env, log)) {
                register(first, "persisted-1");
                // Metrics are for the operators' Prometheus, on the management interface only.
                HttpResponse<String> metrics = http.send(
                        HttpRequest.newBuilder(first.managementUri("/q/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, metrics.statusCode());
                assertTrue(metrics.body().contains("http_server_requests_seconds_count"), "Prometheus text");
                assertEquals(
                        404,
                        http.send(
                                        HttpRequest.newBuilder(first.uri("/q/metrics"))
                                                .build(),
                                        HttpResponse.BodyHandlers.discarding())
                                .statusCode(),
                        "no metrics on the port devices reach");
                assertEquals(
                        200,
                        http.send(
                                        HttpRequest.newBuilder(first.uri("/q/health/ready"))
                                                .build(),
                                        HttpResponse.BodyHandlers.discarding())
                                .statusCode(),
                        "health stays on the main port");

                // The database signs in only with the password generated for it, kept 0600 beside its data directory.
                Path passwordFile = EmbeddedDatabase.passwordFile(pgdata);
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(passwordFile)));
                String password = Files.readString(passwordFile).strip();
                assertTrue(password.length() >= 40, "a generated password, not a word");
                String url = "jdbc:postgresql://localhost:" + dbPort + "/postgres";
                for (String wrong : List.of("postgres", "not-the-password")) {
                    SQLException refused = assertThrows(
                            SQLException.class,
                            () -> DriverManager.getConnection(url, "postgres", wrong)
                                    .close());
                    assertEquals("28P01", refused.getSQLState(), refused.getMessage());
                }
                try (Connection c = DriverManager.getConnection(url, "postgres", password);
                        ResultSet rs = c.createStatement().executeQuery("select count(*) from device")) {
                    assertTrue(rs.next());
                    assertEquals(1, rs.getInt(1));
                }
            }
            try (ServiceProcess second = ServiceProcess.start(env, log)) {
                HttpResponse<String> listed = http.send(
                        HttpRequest.newBuilder(second.uri("/v1/admin/devices"))
                                .header("Authorization", "Bearer run-it-admin")
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, listed.statusCode());
                assertTrue(
                        listed.body().contains("persisted-1"),
                        "the device registered before the restart is gone: " + listed.body());
            }
        } finally {
            try (var files = Files.walk(home)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * With {@code QUARKUS_LOG_CONSOLE_JSON_ENABLED=true} (as the k8s manifests set it) every log line is one JSON object,
     * and a line logged while serving a request carries that request's id.
     */
    @Test
    void structuredLogsNameTheRequestTheyWereLoggedFor() throws Exception {
        Path home = Files.createTempDirectory("outpost-json-logs");
        Map<String, String> env = Map.of(
                "OUTPOST_DB_DIR",
                home.resolve("pgdata").toString(),
                "OUTPOST_ADMIN_TOKEN",
                "run-it-admin",
                "QUARKUS_LOG_CONSOLE_JSON_ENABLED",
                "true");
        Path log = home.resolve("service.log");
        try {
            try (ServiceProcess service = ServiceProcess.start(env, log)) {
                register(service, "to-revoke");
                HttpResponse<String> revoked = http.send(
                        HttpRequest.newBuilder(service.uri("/v1/admin/devices/to-revoke"))
                                .header("Authorization", "Bearer run-it-admin")
                                .header("X-Request-Id", "revoke-42")
                                .DELETE()
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, revoked.statusCode(), revoked.body());
            }
            var json = new com.fasterxml.jackson.databind.ObjectMapper();
            List<com.fasterxml.jackson.databind.JsonNode> lines = new java.util.ArrayList<>();
            for (String line : Files.readAllLines(log)) {
                if (line.startsWith("{")) {
                    lines.add(json.readTree(line));
                }
            }
            assertTrue(lines.size() >= 3, "the service logs JSON lines: " + lines.size());
            var revocation = lines.stream()
                    .filter(l -> l.path("message").asText().startsWith("device to-revoke revoked by"))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no JSON line tells of the revocation"));
            assertEquals("revoke-42", revocation.path("mdc").path("requestId").asText(), revocation.toString());
            assertEquals("INFO", revocation.path("level").asText());
        } finally {
            try (var files = Files.walk(home)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * A service killed with SIGKILL leaves its embedded PostgreSQL running on the data directory; the next start stops
     * it and comes up on the first try, with everything committed before the kill.
     */
    @Test
    void aServiceKilledHardRestartsAtOnceOnTheSameData() throws Exception {
        Path home = Files.createTempDirectory("outpost-killed");
        Path pgdata = home.resolve("pgdata");
        Map<String, String> env = Map.of("OUTPOST_DB_DIR", pgdata.toString(), "OUTPOST_ADMIN_TOKEN", "run-it-admin");
        Path log = home.resolve("service.log");
        try {
            ServiceProcess first = ServiceProcess.start(env, log);
            register(first, "before-kill");
            first.kill();
            long postmaster = Long.parseLong(Files.readAllLines(pgdata.resolve("postmaster.pid"))
                    .getFirst()
                    .strip());
            assertTrue(
                    ProcessHandle.of(postmaster).map(ProcessHandle::isAlive).orElse(false),
                    "the killed service's PostgreSQL should outlive it (the case under test)");

            try (ServiceProcess second = ServiceProcess.start(env, log)) {
                HttpResponse<String> listed = http.send(
                        HttpRequest.newBuilder(second.uri("/v1/admin/devices"))
                                .header("Authorization", "Bearer run-it-admin")
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, listed.statusCode(), listed.body());
                List<String> ids = new java.util.ArrayList<>();
                new com.fasterxml.jackson.databind.ObjectMapper()
                        .readTree(listed.body())
                        .forEach(d -> ids.add(d.get("deviceId").asText()));
                assertEquals(List.of("before-kill"), ids);
                assertFalse(
                        ProcessHandle.of(postmaster).map(ProcessHandle::isAlive).orElse(false),
                        "the orphaned postmaster was stopped, not left beside a second one");
                // A commit the service answered is on disk: not the library's test defaults (no fsync, asynchronous
                // commit), under which killing PostgreSQL loses acknowledged batches.
                List<String> pid = Files.readAllLines(pgdata.resolve("postmaster.pid"));
                try (java.sql.Connection c = java.sql.DriverManager.getConnection(
                                "jdbc:postgresql://localhost:" + pid.get(3).strip() + "/postgres",
                                "postgres",
                                EmbeddedDatabase.password(pgdata));
                        java.sql.Statement st = c.createStatement()) {
                    for (String setting : List.of("fsync", "synchronous_commit")) {
                        try (java.sql.ResultSet r = st.executeQuery("show " + setting)) {
                            r.next();
                            assertEquals("on", r.getString(1), setting);
                        }
                    }
                }
            }
        } finally {
            try (var files = Files.walk(home)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
