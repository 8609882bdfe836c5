package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code outpost run}: the local API takes a write while the server is down; the worker keeps retrying on its own
 * (no new write needed) and the write reaches the server once it is back; an assigned model is installed without
 * being asked; SIGTERM stops it cleanly.
 */
class RunIT {
    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void aWriteMadeWhileTheServerIsDownReachesItWhenItComesBack() throws Exception {
        int port = Service.freePort();
        Outpost field = new Outpost(dir.resolve("field"));
        Outpost office = new Outpost(dir.resolve("office"));
        try (Service service = Service.start(dir, port)) {
            field.run(
                            "init",
                            "--server",
                            service.url,
                            "--device-id",
                            "field-tablet",
                            "--token",
                            service.register("field-tablet", "nakuru"))
                    .ok();
            office.run(
                            "init",
                            "--server",
                            service.url,
                            "--device-id",
                            "office-pc",
                            "--token",
                            service.register("office-pc", "nakuru"))
                    .ok();
        }

        ProcessBuilder pb = new ProcessBuilder(
                Outpost.BINARY.toAbsolutePath().toString(),
                "--home",
                field.home.toString(),
                "run",
                "--port",
                "0",
                "--interval",
                "3600");
        pb.redirectErrorStream(true);
        Process worker = pb.start();
        try {
            BufferedReader out =
                    new BufferedReader(new InputStreamReader(worker.getInputStream(), StandardCharsets.UTF_8));
            String banner = out.readLine();
            assertTrue(banner != null && banner.contains("serving on 127.0.0.1:"), "banner: " + banner);
            LocalApiClient api = new LocalApiClient(field.home, LocalApiClient.baseOf(banner));

            HttpResponse<String> put =
                    api.send("PUT", "/v1/rows/farmer/f42", "{\"name\": \"Baraka Mutua\", \"village\": \"Gilgil\"}");
            assertEquals(200, put.statusCode(), put.body());
            HttpResponse<String> bad = api.send("PUT", "/v1/rows/farmer/f42", "{\"shoe_size\": 42}");
            assertEquals(400, bad.statusCode());
            assertEquals(2, TestJson.number(bad.body(), "exitCode"), bad.body());

            // The server comes back on the same address; nothing is written locally any more.
            try (Service service = Service.start(dir, port)) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                String seen = "";
                while (System.nanoTime() < deadline && !seen.contains("Baraka Mutua")) {
                    office.run("sync");
                    Outpost.Result got = office.run("get", "farmer", "f42");
                    seen = got.exit() == 0 ? got.out() : "";
                }
                assertTrue(seen.contains("Gilgil"), "the worker never delivered the write; office sees: " + seen);
            }
        } finally {
            worker.destroy(); // SIGTERM
            assertTrue(worker.waitFor(30, TimeUnit.SECONDS), "outpost run did not stop on SIGTERM");
        }
        // 143: ended by SIGTERM after the shutdown hook stopped the worker and the local API.
        int exit = worker.exitValue();
        assertTrue(exit == 0 || exit == 143, "exit " + exit);
    }

    @Test
    void theWorkerInstallsAnAssignedModelOnItsOwnAndReportsIt() throws Exception {
        try (Service service = Service.start(dir)) {
            Path weights = ModelUpdateIT.weights(dir, "run-v1.bin", 61, 3 << 20, false);
            service.upload("pest-detector", 1, weights);
            service.desire("pest-detector", 1);
            Outpost device = new Outpost(dir.resolve("worker"));
            service.initTrusting(device, "worker-tablet", service.url).ok();
            ProcessBuilder pb = new ProcessBuilder(device.command("run", "--port", "0", "--interval", "3600"));
            pb.redirectErrorStream(true);
            Process worker = pb.start();
            try {
                BufferedReader out =
                        new BufferedReader(new InputStreamReader(worker.getInputStream(), StandardCharsets.UTF_8));
                String banner = out.readLine();
                LocalApiClient api = new LocalApiClient(device.home, LocalApiClient.baseOf(banner));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                String model = "";
                while (System.nanoTime() < deadline && !activeIs(model, "pest-detector", 1)) {
                    model = api.get("/v1/model").body();
                }
                assertTrue(activeIs(model, "pest-detector", 1), "the worker never installed the model: " + model);
                ModelUpdateIT.assertActive(device, "pest-detector", weights);
                // The version is live before its health check passes; the report follows the check.
                String report = "";
                while (System.nanoTime() < deadline
                        && !TestJson.hasObject(report, java.util.Map.of("outcome", "installed"))) {
                    report = service.admin("/v1/admin/artifacts/pest-detector/devices");
                }
                assertTrue(
                        TestJson.hasObject(report, java.util.Map.of("outcome", "installed", "activeVersion", "1")),
                        "the service never heard of the install: " + report);
            } finally {
                worker.destroy();
                assertTrue(worker.waitFor(30, TimeUnit.SECONDS), "outpost run did not stop on SIGTERM");
            }
        }
    }

    /** Whether {@code model status} JSON says {@code artifact} runs {@code version}; false for anything else. */
    private static boolean activeIs(String modelStatus, String artifact, long version) {
        if (modelStatus.isBlank() || !modelStatus.contains(artifact)) {
            return false;
        }
        var active = TestJson.artifact(modelStatus, artifact).path("active");
        return active.path("version").asLong(-1) == version;
    }
}
