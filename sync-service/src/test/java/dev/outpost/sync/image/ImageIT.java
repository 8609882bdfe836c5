package dev.outpost.sync.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.change.Change;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import dev.outpost.sync.ServiceProcess;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image: built from the packaged service ({@link ServiceImage}), its contents checked from the tarball,
 * then run with podman as production runs it (user 10001, read-only root, no capabilities) against a real PostgreSQL,
 * serving an office write and a device's pull. Where this machine cannot run containers the run is skipped, unless
 * {@code OUTPOST_IMAGE_TESTS=required} (CI) makes that a failure.
 */
class ImageIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final String ADMIN = "image-it-admin-token";

    @TempDir
    static Path dir;

    static Path tarball;
    /** Every layer's files by path (mode and size), layer by layer in image order. */
    static List<Map<String, TarArchiveEntry>> layers;

    static JsonNode config;

    @BeforeAll
    static void build() throws Exception {
        tarball = dir.resolve("outpost-sync-image.tar");
        ServiceImage.build(Path.of("target/quarkus-app"), tarball, dir.resolve("work"));
        Map<String, byte[]> blobs = new HashMap<>();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(tarball))) {
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
                if (e.isFile()) {
                    blobs.put(e.getName(), tar.readAllBytes());
                }
            }
        }
        JsonNode index = JSON.readTree(blobs.get("index.json"));
        JsonNode manifest = JSON.readTree(
                blob(blobs, index.get("manifests").get(0).get("digest").asText()));
        config = JSON.readTree(blob(blobs, manifest.get("config").get("digest").asText()));
        layers = new ArrayList<>();
        for (JsonNode layer : manifest.get("layers")) {
            Map<String, TarArchiveEntry> files = new HashMap<>();
            try (TarArchiveInputStream tar = new TarArchiveInputStream(new GZIPInputStream(
                    new ByteArrayInputStream(blob(blobs, layer.get("digest").asText()))))) {
                for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
                    String path = e.getName()
                            .replaceFirst("^\\./", "")
                            .replaceFirst("^/", "")
                            .replaceFirst("/$", "");
                    files.put("/" + path, e);
                }
            }
            layers.add(files);
        }
    }

    private static byte[] blob(Map<String, byte[]> blobs, String digest) {
        byte[] b = blobs.get("blobs/sha256/" + digest.substring("sha256:".length()));
        if (b == null) {
            throw new AssertionError("the image tarball lacks " + digest);
        }
        return b;
    }

    private static TarArchiveEntry file(String path) {
        return layers.stream()
                .map(l -> l.get(path))
                .filter(e -> e != null)
                .findFirst()
                .orElseThrow(() -> new AssertionError("the image has no " + path));
    }

    @Test
    void theImageRunsTheServiceAsUser10001OnItsOwnRuntimeWithNothingElse() {
        JsonNode c = config.get("config");
        assertEquals("10001:10001", c.get("User").asText(), "never root");
        assertEquals(
                List.of("/opt/java/bin/java", "-jar", "/app/quarkus-run.jar"),
                JSON.convertValue(c.get("Entrypoint"), List.class));
        assertTrue(
                c.get("ExposedPorts").has("8080/tcp") && c.get("ExposedPorts").has("9000/tcp"));
        assertEquals(4, layers.size(), "system libraries, runtime, dependencies, service: " + layers.size());

        assertTrue((file("/opt/java/bin/java").getMode() & 0111) != 0, "java is executable");
        assertTrue(file("/app/quarkus-run.jar").getSize() > 0);
        assertEquals(
                List.of(),
                layers.get(2).keySet().stream()
                        .filter(p -> !p.startsWith("/app/lib") && !p.equals("/app"))
                        .toList(),
                "the dependencies' layer holds the dependencies alone");
        assertEquals(
                List.of(),
                layers.get(3).keySet().stream()
                        .filter(p -> p.startsWith("/app/lib/"))
                        .toList(),
                "the service's layer holds no dependency");
        assertTrue(file("/lib64/ld-linux-x86-64.so.2").getSize() > 0, "the loader the runtime asks for");
        for (String shell : List.of("/bin/sh", "/bin/bash", "/usr/bin/apt-get", "/bin/busybox")) {
            assertTrue(layers.stream().noneMatch(l -> l.containsKey(shell)), "no " + shell + " in the image");
        }
        assertTrue((file("/tmp").getMode() & 0777) == 0777, "a /tmp the service's user can write");
        // Built from the same inputs, the same bytes: files dated a second past the epoch (Jib's fixed time), the
        // image at the epoch.
        assertEquals(1000, file("/app/quarkus-run.jar").getModTime().getTime());
        assertEquals("1970-01-01T00:00:00Z", config.get("created").asText());
    }

    @Test
    void theImageServesAnOfficeWriteToADeviceAgainstARealDatabase() throws Exception {
        Podman podman = Podman.find();
        Assumptions.assumeTrue(
                podman != null || !"required".equals(System.getenv("OUTPOST_IMAGE_TESTS")),
                "OUTPOST_IMAGE_TESTS=required and this machine cannot run containers");
        if (podman == null) {
            Assumptions.abort("this machine cannot run containers (no podman)");
        }
        String image = podman.load(tarball);
        String cannot = podman.cannotRun(image);
        Assumptions.assumeTrue(
                cannot == null || !"required".equals(System.getenv("OUTPOST_IMAGE_TESTS")),
                "OUTPOST_IMAGE_TESTS=required and this machine cannot run containers: " + cannot);
        if (cannot != null) {
            Assumptions.abort("this machine cannot run containers: " + cannot);
        }
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
            int port = ServiceProcess.freePort();
            int management = ServiceProcess.freePort();
            Map<String, String> env = new HashMap<>();
            env.put("QUARKUS_DATASOURCE_REACTIVE_URL", "postgresql://127.0.0.1:" + pg.getPort() + "/postgres");
            env.put("QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://127.0.0.1:" + pg.getPort() + "/postgres");
            env.put("QUARKUS_DATASOURCE_USERNAME", "postgres");
            env.put("QUARKUS_DATASOURCE_PASSWORD", "postgres");
            env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
            env.put("QUARKUS_MANAGEMENT_PORT", Integer.toString(management));
            env.put("OUTPOST_ADMIN_TOKEN", ADMIN);
            env.put("OUTPOST_ARTIFACTS_DIR", "/tmp/artifacts");
            env.put("OUTPOST_REPLICA_ID", "image-it");
            env.put("QUARKUS_LOG_CONSOLE_JSON_ENABLED", "true");
            String name = "outpost-image-it-" + UUID.randomUUID().toString().substring(0, 8);
            podman.run(name, image, env);
            try {
                awaitReady(podman, name, port);
                String base = "http://127.0.0.1:" + port;
                String scope = "image-" + UUID.randomUUID().toString().substring(0, 6);
                HttpResponse<String> put = send(HttpRequest.newBuilder(URI.create(base + "/v1/admin/data/farmer/f1"))
                        .header("Authorization", "Bearer " + ADMIN)
                        .header("Content-Type", "application/json")
                        .PUT(HttpRequest.BodyPublishers.ofString(
                                "{\"district\": \"" + scope + "\", \"name\": \"Wanjiru Kamau\"}")));
                assertEquals(200, put.statusCode(), put.body());

                HttpResponse<String> registered = send(HttpRequest.newBuilder(URI.create(base + "/v1/admin/devices"))
                        .header("Authorization", "Bearer " + ADMIN)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(
                                "{\"deviceId\": \"tablet-1\", \"scopes\": [\"" + scope + "\"]}")));
                assertEquals(201, registered.statusCode(), registered.body());
                String token = JSON.readTree(registered.body()).get("token").asText();

                WireCodec codec = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);
                HttpResponse<byte[]> pulled = HTTP.send(
                        HttpRequest.newBuilder(URI.create(base + "/v1/sync"))
                                .header("Authorization", "Bearer " + token)
                                .header("Content-Type", WireFormat.BINARY.mediaType())
                                .header("Accept", WireFormat.BINARY.mediaType())
                                .POST(HttpRequest.BodyPublishers.ofByteArray(codec.encode(
                                        new SyncRequest("tablet-1", 1, null, null, 0, List.of()), WireFormat.BINARY)))
                                .build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(200, pulled.statusCode(), new String(pulled.body(), StandardCharsets.UTF_8));
                SyncResponse response = codec.decodeResponse(pulled.body(), WireFormat.BINARY);
                Change written = response.changes().stream()
                        .filter(ch -> ch.rowId().equals("f1") && ch.field().equals("name"))
                        .findFirst()
                        .orElseThrow(() -> new AssertionError("the office's write did not reach the device"));
                assertEquals("server.image-it", written.clock().deviceId(), "stamped by the replica the image ran as");

                HttpResponse<String> metrics =
                        send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + management + "/q/metrics")));
                assertTrue(metrics.body().contains("outpost_sync_bytes_in"), "metrics on the management port");
                JsonNode line = podman.logs(name)
                        .lines()
                        .filter(l -> l.startsWith("{"))
                        .map(ImageIT::parse)
                        .filter(n -> n.has("message"))
                        .findFirst()
                        .orElseThrow(() -> new AssertionError("no JSON log line"));
                assertTrue(line.has("timestamp") && line.has("level"), line.toString());
            } catch (AssertionError | Exception e) {
                throw new AssertionError("the container's log:\n" + podman.logs(name), e);
            } finally {
                podman.remove(name);
            }
        }
    }

    private static JsonNode parse(String line) {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            return JSON.createObjectNode();
        }
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void awaitReady(Podman podman, String name, int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (!podman.running(name)) {
                throw new AssertionError("the container stopped before it was ready");
            }
            try {
                if (send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")))
                                .statusCode()
                        == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        throw new AssertionError("the container was not ready within 120 s");
    }

    /** The podman command, with the OCI runtime and limits that work on this machine. */
    record Podman(List<String> base) {
        /**
         * Podman where installed, with runc where that is installed too (crun refuses hybrid cgroup hierarchies);
         * null without podman.
         */
        static Podman find() {
            List<String> base = new ArrayList<>(List.of("podman"));
            if (onPath("runc")) {
                base.addAll(List.of("--runtime", "runc"));
            }
            Podman p = new Podman(base);
            try {
                return onPath("podman") && p.exec(List.of("info")).exitCode == 0 ? p : null;
            } catch (IOException | InterruptedException e) {
                return null;
            }
        }

        static boolean onPath(String command) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
                if (Files.isExecutable(Path.of(d, command))) {
                    return true;
                }
            }
            return false;
        }

        String load(Path tarball) throws Exception {
            Result r = exec(List.of("load", "-i", tarball.toString()));
            if (r.exitCode != 0) {
                throw new AssertionError("podman load failed: " + r.out);
            }
            return "localhost/" + ServiceImage.NAME;
        }

        /** Null when a container of {@code image} runs here (its java answers), else why not. */
        String cannotRun(String image) throws Exception {
            List<String> args = new ArrayList<>(List.of("run", "--rm", "--entrypoint", "/opt/java/bin/java"));
            args.addAll(LIMITS);
            args.addAll(List.of(image, "-version"));
            Result r = exec(args);
            return r.exitCode == 0 && r.out.contains("OpenJDK") ? null : r.out.trim();
        }

        /** Given, not raised: raising a limit needs CAP_SYS_RESOURCE, which a sandbox may withhold. */
        static final List<String> LIMITS = List.of("--ulimit", "nofile=8192:8192", "--ulimit", "nproc=8192:8192");

        /** As production runs it: its own user, a read-only root with a scratch /tmp, no capabilities. */
        void run(String name, String image, Map<String, String> env) throws Exception {
            List<String> args = new ArrayList<>(List.of(
                    "run",
                    "-d",
                    "--name",
                    name,
                    "--network",
                    "host",
                    "--read-only",
                    "--tmpfs",
                    "/tmp:rw,mode=1777",
                    "--cap-drop",
                    "ALL",
                    "--security-opt",
                    "no-new-privileges"));
            args.addAll(LIMITS);
            env.forEach((k, v) -> args.addAll(List.of("-e", k + "=" + v)));
            args.add(image);
            Result r = exec(args);
            if (r.exitCode != 0) {
                throw new AssertionError("podman run failed: " + r.out);
            }
        }

        boolean running(String name) throws Exception {
            Result r = exec(List.of("inspect", "--format", "{{.State.Running}}", name));
            return r.exitCode == 0 && r.out.trim().equals("true");
        }

        String logs(String name) {
            try {
                return exec(List.of("logs", name)).out;
            } catch (Exception e) {
                return "(no log: " + e + ")";
            }
        }

        void remove(String name) throws Exception {
            exec(List.of("rm", "-f", "-t", "10", name));
        }

        private Result exec(List<String> args) throws IOException, InterruptedException {
            List<String> command = new ArrayList<>(base);
            command.addAll(args);
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("podman " + args + " did not finish in 5 min");
            }
            return new Result(p.exitValue(), out);
        }

        record Result(int exitCode, String out) {}
    }
}
