package dev.outpost.model;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real S3 API server for tests: s3proxy (copied to {@code target/s3proxy/s3proxy.jar} by the build) as its own
 * process, keeping buckets as directories under {@link #data()}. Signature V4 with a fixed test identity, as S3 asks.
 */
public final class S3Server implements AutoCloseable {
    public static final Path JAR = Path.of("target/s3proxy/s3proxy.jar");
    public static final String ACCESS_KEY = "outpost-test";
    public static final String SECRET_KEY = "outpost-test-secret";

    private final Path data;
    private final Path log;
    private final int port;
    private Process process;

    private S3Server(Path data, Path log, int port) {
        this.data = data;
        this.log = log;
        this.port = port;
    }

    /** Starts a server keeping its buckets under {@code dir/data}, logging to {@code dir/s3proxy.log}. */
    public static S3Server start(Path dir) throws IOException, InterruptedException {
        if (!Files.exists(JAR)) {
            throw new IllegalStateException("the build copies s3proxy first: " + JAR.toAbsolutePath() + " is missing");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        S3Server server = new S3Server(Files.createDirectories(dir.resolve("data")), dir.resolve("s3proxy.log"), port);
        Files.writeString(
                dir.resolve("s3proxy.conf"),
                String.join(
                        "\n",
                        "s3proxy.authorization=aws-v2-or-v4",
                        "s3proxy.endpoint=http://127.0.0.1:" + port,
                        "s3proxy.identity=" + ACCESS_KEY,
                        "s3proxy.credential=" + SECRET_KEY,
                        "jclouds.provider=filesystem",
                        "jclouds.filesystem.basedir=" + server.data.toAbsolutePath(),
                        ""));
        server.launch(dir.resolve("s3proxy.conf"));
        return server;
    }

    private void launch(Path conf) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-jar",
                JAR.toString(),
                "--properties",
                conf.toString());
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        process = pb.start();
        HttpClient http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                List<String> lines = Files.readAllLines(log);
                throw new IllegalStateException("s3proxy exited with " + process.exitValue() + ":\n"
                        + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
            }
            try {
                // Any answer (an unsigned request gets 403) means it serves.
                http.send(HttpRequest.newBuilder(endpoint()).build(), HttpResponse.BodyHandlers.discarding());
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        process.destroyForcibly();
        throw new IllegalStateException("s3proxy did not answer within 60 s; see " + log);
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** Where the buckets are kept: one directory per bucket, one file per object. */
    public Path data() {
        return data;
    }

    /** Creates a bucket (a directory, as s3proxy's file-system back end keeps them). */
    public void createBucket(String name) throws IOException {
        Files.createDirectories(data.resolve(name));
    }

    /** Stops the server, as an outage of the object store would look to its clients. */
    public void stop() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** Starts it again on the same port and data, after {@link #stop()}. */
    public void restart() throws IOException, InterruptedException {
        launch(log.resolveSibling("s3proxy.conf"));
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
