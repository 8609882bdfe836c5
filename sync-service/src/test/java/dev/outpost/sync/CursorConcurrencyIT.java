package dev.outpost.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireFormat;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Many devices push at once while another device pulls: their transactions commit in whatever order they like,
 * and the puller must still see every change exactly once, both while the pushes run and from the start after.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class CursorConcurrencyIT {
    private static final int DEVICES = 20;
    private static final int BATCHES = 50;
    private static final int NEW_ROWS_PER_BATCH = 4;

    /** Not a multiple of a batch's size: pages end inside the feed entries of batches, and resume there. */
    private static final int PAGE_SIZE = 333;

    @TestHTTPResource("/v1/sync")
    URI syncUri;

    @Inject
    Pool pool;

    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @Test
    void concurrentPushersNeverMakeAPullerMissOrRepeatAChange() throws Exception {
        String scope = "district-" + UUID.randomUUID().toString().substring(0, 8);
        List<TestDevice> pushers = new ArrayList<>();
        for (int i = 0; i < DEVICES; i++) {
            pushers.add(TestDevice.register("pusher" + i, scope));
        }
        TestDevice watcher = TestDevice.register("watcher", scope);
        String sharedCrop = UUID.randomUUID().toString();
        List<Change> pushed = Collections.synchronizedList(new ArrayList<>());
        List<Change> seenWhileRunning = new ArrayList<>();
        AtomicBoolean pushing = new AtomicBoolean(true);

        ExecutorService threads = Executors.newFixedThreadPool(DEVICES + 1);
        try {
            Future<?> watching = threads.submit(() -> {
                while (pushing.get()) {
                    seenWhileRunning.addAll(pull(watcher).changes());
                }
                return null;
            });
            List<Future<?>> work = new ArrayList<>();
            for (TestDevice d : pushers) {
                work.add(threads.submit(() -> {
                    long total = 0;
                    for (int b = 0; b < BATCHES; b++) {
                        List<Change> batch = new ArrayList<>();
                        for (int r = 0; r < NEW_ROWS_PER_BATCH; r++) {
                            batch.add(d.assign(
                                    "farmer",
                                    UUID.randomUUID().toString(),
                                    scope,
                                    "name",
                                    new FieldValue.Text(d.id + "/" + b + "/" + r)));
                        }
                        total += 1 + (b % 3);
                        // Every device also bumps one shared counter: all batches contend for that row's lock.
                        batch.add(new Change(
                                "crop_record",
                                sharedCrop,
                                scope,
                                "bags_harvested",
                                new Op.CounterTotal(total),
                                d.clock.now()));
                        SyncResponse r = send(d, new SyncRequest(d.id, 1, "b-" + UUID.randomUUID(), null, 0, batch));
                        assertEquals(batch.size(), r.ack().applied());
                        pushed.addAll(batch);
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get();
            }
            pushing.set(false);
            watching.get();
        } finally {
            threads.shutdownNow();
        }
        SyncResponse tail;
        do {
            tail = pull(watcher);
            seenWhileRunning.addAll(tail.changes());
        } while (tail.more());

        assertEquals(DEVICES * BATCHES * (NEW_ROWS_PER_BATCH + 1), pushed.size());
        assertExactlyOnce(pushed, seenWhileRunning, "the puller that pulled during the pushes");

        TestDevice fresh = TestDevice.register("fresh", scope);
        List<Change> fromStart = new ArrayList<>();
        SyncResponse page;
        do {
            page = pull(fresh);
            fromStart.addAll(page.changes());
        } while (page.more());
        assertExactlyOnce(pushed, fromStart, "a device pulling from the start");

        // Every batch merged into the one shared row, most of them optimistically (unlocked) and some again under
        // locks after a concurrent write: no device's contribution may be lost from the stored row.
        long perDevice = 0;
        for (int b = 0; b < BATCHES; b++) {
            perDevice += 1 + (b % 3);
        }
        byte[] stored = Sql.rowState(pool, "crop_record", sharedCrop);
        RowState row = new RowStateCodec(SchemaLoader.farmExample()).decode("crop_record", sharedCrop, scope, stored);
        var counter = (FieldState.Counter) row.fields().get("bags_harvested");
        assertEquals(DEVICES, counter.byDevice().size(), "devices with a contribution in the stored row");
        assertEquals(DEVICES * perDevice, counter.total(), "the shared counter's stored total");
    }

    private static void assertExactlyOnce(List<Change> pushed, List<Change> seen, String who) {
        Map<Change, Integer> counts = new HashMap<>();
        for (Change c : seen) {
            counts.merge(c, 1, Integer::sum);
        }
        List<Change> missing =
                pushed.stream().filter(c -> !counts.containsKey(c)).toList();
        List<Change> repeated = counts.entrySet().stream()
                .filter(e -> e.getValue() > 1)
                .map(Map.Entry::getKey)
                .toList();
        assertTrue(
                missing.isEmpty(),
                who + " missed " + missing.size() + " changes, e.g. "
                        + missing.stream().limit(3).toList());
        assertTrue(repeated.isEmpty(), who + " saw " + repeated.size() + " changes twice");
        assertEquals(pushed.size(), seen.size(), who + " saw changes nobody pushed");
    }

    private SyncResponse pull(TestDevice d) {
        return send(d, new SyncRequest(d.id, 1, null, d.cursor, PAGE_SIZE, List.of()));
    }

    private SyncResponse send(TestDevice d, SyncRequest request) {
        try {
            HttpResponse<byte[]> r = http.send(
                    HttpRequest.newBuilder(syncUri)
                            .header("Authorization", "Bearer " + d.token)
                            .header("Content-Type", WireFormat.BINARY.mediaType())
                            .header("Accept", WireFormat.BINARY.mediaType())
                            .POST(HttpRequest.BodyPublishers.ofByteArray(
                                    TestDevice.CODEC.encode(request, WireFormat.BINARY)))
                            .build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() != 200) {
                throw new AssertionError("sync answered " + r.statusCode() + ": " + new String(r.body()));
            }
            SyncResponse response = TestDevice.CODEC.decodeResponse(r.body(), WireFormat.BINARY);
            d.cursor = response.cursor();
            return response;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
