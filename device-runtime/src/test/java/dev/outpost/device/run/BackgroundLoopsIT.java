package dev.outpost.device.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.model.ArtifactClient;
import dev.outpost.device.model.HealthCheck;
import dev.outpost.device.model.ModelUpdater;
import dev.outpost.device.sqlite.SqliteDatabase;
import dev.outpost.device.sqlite.SqliteModelState;
import dev.outpost.device.sqlite.SqliteReports;
import dev.outpost.device.sqlite.SqliteSettings;
import dev.outpost.device.store.ModelState;
import dev.outpost.device.store.ReportStore;
import dev.outpost.device.store.Settings;
import dev.outpost.model.artifact.SigningKeys;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The background loops of {@code outpost run} and what model installs keep: a loop survives any failure and shows it,
 * an artifact named with dots is installed like any other, and install reports are bounded and never held back by one
 * the service refuses. Real SQLite homes; a real local HTTP server where the service is needed.
 */
class BackgroundLoopsIT {
    @TempDir
    Path dir;

    @Test
    void theSyncLoopSurvivesAnUnexpectedFailureAndSyncsAfterIt() throws Exception {
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru"));
        try (OutpostDevice device = OutpostDevice.open(home)) {
            AtomicInteger calls = new AtomicInteger();
            dev.outpost.device.sync.SyncLink empty = request ->
                    new dev.outpost.device.sync.SyncLink.Reply.Accepted(new dev.outpost.model.wire.SyncResponse(
                            null, "0", false, System.currentTimeMillis(), List.of(), List.of(), List.of()));
            Supplier<dev.outpost.device.sync.SyncResult> syncs = () -> {
                if (calls.incrementAndGet() == 1) {
                    // As a junk Content-Length on a chunked answer did: not a DeviceException.
                    throw new NumberFormatException("For input string: \"junk\"");
                }
                return device.sync(() -> empty);
            };
            SyncWorker worker = new SyncWorker(syncs, 3_600_000);
            CountDownLatch synced = new CountDownLatch(1);
            List<String> outcomes = new ArrayList<>();
            worker.afterSync(() -> {
                outcomes.add(worker.lastOutcome());
                synced.countDown();
            });
            Thread loop = new Thread(worker, "test-sync-loop");
            loop.start();
            assertTrue(synced.await(30, TimeUnit.SECONDS), "the loop synced after the failure");
            worker.stop();
            loop.join(10_000);
            assertEquals(2, calls.get(), "one failed sync, then one that worked");
            assertTrue(outcomes.getFirst().startsWith("ok"), outcomes.toString());
        }
    }

    @Test
    void theModelLoopSurvivesAnUnexpectedFailureAndShowsIt() throws Exception {
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru"));
        try (SqliteDatabase db = SqliteDatabase.open(home.resolve("outpost.db"))) {
            SqliteModelState state = new SqliteModelState(db);
            db.run(() -> {
                new SqliteSettings(db)
                        .put(
                                Settings.Setting.MODEL_SIGNING_KEY,
                                Base64.getEncoder()
                                        .encodeToString(SigningKeys.generate()
                                                .publicKey()
                                                .getEncoded()));
                // Not base64: decoding it throws IllegalArgumentException, which once ended the loop.
                state.put("crop.disease", ModelState.ArtifactState.NONE.withAssignment("%%% not base64 %%%"));
            });
        }
        try (OutpostDevice device = OutpostDevice.open(home)) {
            assertEquals(List.of("crop.disease"), device.models().artifacts(), "a name with dots is one artifact");
            ModelWorker worker = new ModelWorker(device, new HealthCheck(null, 1), 3_600_000);
            Thread loop = new Thread(worker, "test-model-loop");
            loop.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!worker.lastOutcome().contains("unexpected failure") && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertTrue(worker.lastOutcome().contains("unexpected failure"), worker.lastOutcome());
            assertTrue(loop.isAlive(), "the loop goes on after the failure");
            worker.stop();
            loop.join(10_000);
        }
    }

    @Test
    void reportsAreBoundedAndOneTheServiceRefusesDoesNotHoldBackTheRest() throws Exception {
        List<String> delivered = new ArrayList<>();
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        http.createContext("/v1/device/model-reports", x -> {
            String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            int status = body.contains("\"refuse-me\"") ? 422 : 200;
            if (status == 200) {
                synchronized (delivered) {
                    delivered.add(body);
                }
            }
            x.sendResponseHeaders(status, -1);
            x.close();
        });
        http.start();
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("reports.db"))) {
            SqliteReports reports = new SqliteReports(db);
            db.run(() -> {
                for (int i = 0; i < ReportStore.REPORTS_MAX + 10; i++) {
                    reports.queue("{\"artifact\":\"a\",\"n\":" + i + "}");
                }
            });
            assertEquals(ReportStore.REPORTS_MAX, db.inTransaction(reports::count));
            assertEquals(10L, db.inTransaction(reports::dropped));
            assertEquals(
                    "{\"artifact\":\"a\",\"n\":10}",
                    db.inTransaction(() -> reports.findOldest(1)).getFirst().body(),
                    "the oldest ones went");

            db.run(() -> {
                while (reports.count() > 0) {
                    reports.delete(reports.findOldest(1).getFirst().id(), false);
                }
                reports.queue("{\"artifact\":\"refuse-me\"}");
                reports.queue("{\"artifact\":\"b\"}");
                reports.queue("{\"artifact\":\"c\"}");
            });
            String url = "http://127.0.0.1:" + http.getAddress().getPort();
            ModelUpdater models = new ModelUpdater(
                    db,
                    new SqliteModelState(db),
                    reports,
                    new SqliteSettings(db),
                    dir.resolve("models"),
                    new ArtifactClient(url, "opd_test"),
                    System::currentTimeMillis);
            assertEquals(2, models.flushReports());
            assertEquals(List.of("{\"artifact\":\"b\"}", "{\"artifact\":\"c\"}"), delivered);
            assertEquals(0L, db.inTransaction(reports::count));
            assertEquals(11L, db.inTransaction(reports::dropped), "the refused one is counted as dropped");
        } finally {
            http.stop(0);
        }
    }

    @Test
    void reportsStayQueuedWhileTheServiceCannotBeReached() throws Exception {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("reports.db"))) {
            SqliteReports reports = new SqliteReports(db);
            db.run(() -> reports.queue("{\"artifact\":\"a\"}"));
            ModelUpdater models = new ModelUpdater(
                    db,
                    new SqliteModelState(db),
                    reports,
                    new SqliteSettings(db),
                    dir.resolve("models"),
                    new ArtifactClient("http://127.0.0.1:9", "opd_test"),
                    System::currentTimeMillis);
            assertEquals(0, models.flushReports());
            assertEquals(1L, db.inTransaction(reports::count));
            assertEquals(0L, db.inTransaction(reports::dropped));
        }
    }
}
