package dev.outpost.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.sync.retention.FeedCompaction;
import dev.outpost.sync.snapshot.SnapshotBuilder;
import dev.outpost.sync.store.Cursor;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Feed compaction on real PostgreSQL: a scope's feed goes below the lowest of its active devices' cursors and its
 * oldest kept snapshot, a bounded number of entries per look; a device behind the horizon (slept past the idle
 * period, or new) is answered cursor-behind-horizon, and the feed from the snapshot's cursor still carries every later
 * change. Each test compacts only its own scope (tests share one database).
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class FeedCompactionIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    FeedCompaction compaction;

    @Inject
    SnapshotBuilder builder;

    @Inject
    Pool pool;

    private static List<Change> farmers(TestDevice d, String scope, int from, int to) {
        List<Change> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(d.assign("farmer", scope + "-f" + i, scope, "name", new FieldValue.Text("Farmer " + i)));
        }
        return out;
    }

    private static String newScope() {
        return "compact-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Pulls to the end, then once more so that the service records where the device stands. */
    private static List<Change> catchUp(TestDevice d) {
        List<Change> pulled = d.pullAll();
        d.pullAll();
        return pulled;
    }

    private void idle(TestDevice d, int days) {
        pool.preparedQuery("update device set last_sync_at = now() - make_interval(days => $2) where id = $1")
                .execute(Tuple.of(d.id, days))
                .await()
                .indefinitely();
    }

    private long entries(String scope) {
        return Sql.count(pool, "select count(*) from change_feed where scope = '" + scope + "'");
    }

    private FeedCompaction.Compacted compact(String scope, int limit) {
        return compaction.run(Instant.now(), limit, scope::equals).await().indefinitely();
    }

    private String snapshotCursor(String scope) {
        return builder.build().await().indefinitely().stream()
                .filter(b -> b.scope().equals(scope))
                .findFirst()
                .orElseThrow()
                .cursor();
    }

    private static Set<String> rowIds(List<Change> changes) {
        Set<String> ids = new TreeSet<>();
        changes.forEach(c -> ids.add(c.rowId()));
        return ids;
    }

    private static Set<String> farmerIds(String scope, int from, int to) {
        Set<String> ids = new TreeSet<>();
        for (int i = from; i < to; i++) {
            ids.add(scope + "-f" + i);
        }
        return ids;
    }

    /** The problem JSON a pull from {@code d}'s cursor gets, which must be the horizon's 410. */
    private static JsonNode behind(TestDevice d) throws Exception {
        Response r = d.post(new SyncRequest(d.id, 1, null, d.cursor, 0, List.of()), WireFormat.JSON);
        assertEquals(410, r.statusCode(), r.asString());
        JsonNode problem = JSON.readTree(r.asString());
        assertEquals("cursor-behind-horizon", problem.get("code").asText());
        return problem;
    }

    @Test
    void theFeedGoesBelowTheLowestActiveCursorAndSnapshotAndADeviceBehindIsToldSo() throws Exception {
        String scope = newScope();
        TestDevice writer = TestDevice.register("compact-writer", scope);
        TestDevice sleeper = TestDevice.register("compact-sleeper", scope);
        TestDevice reader = TestDevice.register("compact-reader", scope);

        writer.push(farmers(writer, scope, 0, 10));
        assertEquals(farmerIds(scope, 0, 10), rowIds(catchUp(sleeper)));
        idle(sleeper, 40);
        writer.push(farmers(writer, scope, 10, 20));
        assertEquals(farmerIds(scope, 0, 20), rowIds(catchUp(reader)));
        String snapshot = snapshotCursor(scope);
        writer.push(farmers(writer, scope, 20, 30));
        catchUp(writer);
        assertEquals(3, entries(scope));

        FeedCompaction.Compacted done = compact(scope, 10_000);
        assertTrue(done.ran());
        assertEquals(2L, done.entries().get(scope), "the two entries below the reader and the snapshot went");
        assertEquals(1, entries(scope));
        Cursor horizon = done.horizons().get(scope);
        assertTrue(horizon.compareTo(Cursor.parse(snapshot)) < 0, "the horizon stays below the snapshot's cursor");
        assertEquals(
                horizon.toString(),
                pool.preparedQuery("select xid::text || ':' || pos as h from feed_horizon where scope = $1")
                        .execute(Tuple.of(scope))
                        .await()
                        .indefinitely()
                        .iterator()
                        .next()
                        .getString("h"));

        // The active reader goes on with no gap: the last batch, exactly.
        assertEquals(farmerIds(scope, 20, 30), rowIds(reader.pullAll()));
        // The sleeper and a device that never pulled are told, in a stable code, and nothing of theirs is read.
        JsonNode problem = behind(sleeper);
        assertTrue(problem.get("detail").asText().contains(scope), problem.toString());
        TestDevice fresh = TestDevice.register("compact-fresh", scope);
        behind(fresh);
        // From the snapshot's cursor the feed carries every later change.
        fresh.cursor = snapshot;
        assertEquals(farmerIds(scope, 20, 30), rowIds(fresh.pullAll()));
        // A second look finds nothing more to do: the last entry is above the snapshot's cursor.
        assertFalse(compact(scope, 10_000).entries().containsKey(scope));
        assertEquals(1, entries(scope));
    }

    @Test
    void anActiveDeviceHoldsTheHorizonBackUntilIdleAndEachLookIsBounded() throws Exception {
        String scope = newScope();
        TestDevice writer = TestDevice.register("compact-w", scope);
        TestDevice laggard = TestDevice.register("compact-lag", scope);
        laggard.pullAll(); // the service records it at the start of the feed
        for (int batch = 0; batch < 5; batch++) {
            writer.push(farmers(writer, scope, batch * 4, batch * 4 + 4));
        }
        catchUp(writer);

        // No snapshot yet: a device behind would have no way in, so nothing goes.
        assertFalse(compact(scope, 10_000).entries().containsKey(scope));
        String snapshot = snapshotCursor(scope);
        assertFalse(compact(scope, 10_000).entries().containsKey(scope), "the laggard, active, holds the whole feed");
        assertEquals(5, entries(scope));

        idle(laggard, 31);
        Cursor before = Cursor.START;
        List<Long> perLook = new ArrayList<>();
        while (true) {
            FeedCompaction.Compacted look = compact(scope, 2);
            Long n = look.entries().get(scope);
            if (n == null) {
                break;
            }
            perLook.add(n);
            assertTrue(look.horizons().get(scope).compareTo(before) > 0, "the horizon only moves forward");
            before = look.horizons().get(scope);
        }
        assertEquals(List.of(2L, 2L, 1L), perLook);
        assertEquals(0, entries(scope));

        behind(laggard);
        TestDevice fresh = TestDevice.register("compact-new", scope);
        fresh.cursor = snapshot;
        assertEquals(List.of(), fresh.pullAll(), "nothing after the snapshot, and no refusal from its cursor");
        // A write after compaction reaches a device that stands at the snapshot's cursor.
        writer.push(farmers(writer, scope, 100, 101));
        assertEquals(farmerIds(scope, 100, 101), rowIds(fresh.pullAll()));
    }
}
