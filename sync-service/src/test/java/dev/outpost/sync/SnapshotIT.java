package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.snapshot.ScopeSnapshot;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.sync.artifact.ChunkStore;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.snapshot.SnapshotBuilder;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Scope snapshots on real PostgreSQL: a snapshot holds exactly the scope's row states, fetched by ranges and checked
 * by its hash, only by devices of the scope; the feed from its cursor carries every later change (no gap); each scope
 * keeps its latest two.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class SnapshotIT {
    @Inject
    SnapshotBuilder builder;

    @Inject
    ChunkStore store;

    @Inject
    Pool pool;

    @Inject
    SchemaRegistry schemas;

    private static List<Change> farmers(TestDevice d, String scope, int from, int to, String name) {
        List<Change> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(d.assign("farmer", scope + "-f" + i, scope, "name", new FieldValue.Text(name + " " + i)));
        }
        return out;
    }

    /** The scope's rows as stored: table/id -> (deleted, state bytes). */
    private Map<String, ScopeSnapshot.Row> stored(String scope) {
        Map<String, ScopeSnapshot.Row> out = new TreeMap<>();
        pool.preparedQuery("select tbl, id, deleted, state from row_state where scope = $1")
                .execute(Tuple.of(scope))
                .await()
                .indefinitely()
                .forEach(r -> out.put(
                        r.getString("tbl") + "/" + r.getString("id"),
                        new ScopeSnapshot.Row(
                                r.getString("tbl"),
                                r.getString("id"),
                                r.getBoolean("deleted"),
                                r.getBuffer("state").getBytes())));
        return out;
    }

    private static byte[] range(TestDevice d, String sha, String range, int status) {
        return given().header("Authorization", "Bearer " + d.token)
                .header("Range", range)
                .get("/v1/snapshots/" + sha)
                .then()
                .statusCode(status)
                .extract()
                .asByteArray();
    }

    @Test
    void aSnapshotHoldsTheScopeAsOfItsCursorAndTheFeedCarriesOnFromThereWithNoGap() throws Exception {
        String scope = "snap-" + UUID.randomUUID().toString().substring(0, 8);
        TestDevice field = TestDevice.register("snap-field", scope);
        List<Change> first = new ArrayList<>(farmers(field, scope, 0, 40, "Farmer"));
        first.add(new Change(
                "crop_record", scope + "-c1", scope, "bags_harvested", new Op.CounterTotal(12), field.clock.now()));
        field.push(first);
        field.push(List.of(new Change(
                "farmer", scope + "-f3", scope, null, new Op.Delete(new java.util.TreeMap<>()), field.clock.now())));

        // A row as stored before V9, in JSON text: the snapshot carries it in the CBOR form, the same state.
        RowStateCodec codec = new RowStateCodec(schemas.current());
        String old = scope + "-f1";
        byte[] stored = stored(scope).get("farmer/" + old).state();
        byte[] json = codec.encode(codec.decode("farmer", old, scope, stored)).getBytes(StandardCharsets.UTF_8);
        pool.preparedQuery("update row_state set state = $1 where tbl = 'farmer' and id = $2")
                .execute(Tuple.of(Buffer.buffer(json), old))
                .await()
                .indefinitely();

        List<SnapshotBuilder.Built> built = builder.build().await().indefinitely();
        SnapshotBuilder.Built mine =
                built.stream().filter(b -> b.scope().equals(scope)).findFirst().orElseThrow();
        Map<String, ScopeSnapshot.Row> expected = stored(scope);
        assertEquals(41, expected.size());
        assertEquals(41, mine.rows());

        // Changes after the build: the feed from the snapshot's cursor must carry them.
        field.push(farmers(field, scope, 40, 45, "Late"));
        field.push(farmers(field, scope, 0, 1, "Renamed"));

        TestDevice fresh = TestDevice.register("snap-fresh", scope);
        JsonPath listed = given().header("Authorization", "Bearer " + fresh.token)
                .get("/v1/snapshots")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
        assertEquals(List.of(scope), listed.getList("snapshots.scope"));
        String sha = listed.getString("snapshots[0].sha256");
        assertEquals(mine.sha256().hex(), sha);
        long bytes = listed.getLong("snapshots[0].bytes");
        String cursor = listed.getString("snapshots[0].cursor");

        // Fetched in two ranges (as a cut download resumes), checked by its name.
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        long half = bytes / 2;
        file.write(range(fresh, sha, "bytes=0-" + (half - 1), 206));
        file.write(range(fresh, sha, "bytes=" + half + "-", 206));
        assertEquals(Sha256.parse(sha), Sha256.digest(file.toByteArray()));

        Map<String, ScopeSnapshot.Row> read = new TreeMap<>();
        try (ScopeSnapshot.Reader r = new ScopeSnapshot.Reader(new ByteArrayInputStream(file.toByteArray()))) {
            assertEquals(new ScopeSnapshot.Header(scope, cursor, 1), r.header());
            for (ScopeSnapshot.Row row; (row = r.next()) != null; ) {
                read.put(row.table() + "/" + row.id(), row);
            }
        }
        assertEquals(expected.keySet(), read.keySet());
        for (var e : expected.entrySet()) {
            assertEquals(e.getValue().deleted(), read.get(e.getKey()).deleted(), e.getKey());
            if (!e.getKey().equals("farmer/" + old)) {
                assertArrayEquals(e.getValue().state(), read.get(e.getKey()).state(), e.getKey());
            }
        }
        byte[] carried = read.get("farmer/" + old).state();
        assertEquals('{', expected.get("farmer/" + old).state()[0], "stored as JSON text");
        assertTrue(carried[0] != '{', "carried in CBOR");
        assertEquals(codec.decode("farmer", old, scope, json), codec.decode("farmer", old, scope, carried));
        assertTrue(read.get("farmer/" + scope + "-f3").deleted());

        // The feed from the snapshot's cursor: every change made after the build arrives.
        fresh.cursor = cursor;
        List<Change> pulled = fresh.pullAll();
        for (int i = 40; i < 45; i++) {
            String id = scope + "-f" + i;
            assertTrue(pulled.stream().anyMatch(c -> c.rowId().equals(id)), id + " reached the fresh device");
        }
        assertTrue(
                pulled.stream()
                        .anyMatch(c -> c.rowId().equals(scope + "-f0")
                                && c.op() instanceof Op.Assign a
                                && a.value().equals(new FieldValue.Text("Renamed 0"))),
                "the rename after the build reached it");
    }

    @Test
    void onlyADeviceOfTheScopeReadsItsSnapshotAndEachScopeKeepsItsLatestTwo() throws Exception {
        String scope = "snap-" + UUID.randomUUID().toString().substring(0, 8);
        TestDevice field = TestDevice.register("snap-keep", scope);
        TestDevice other = TestDevice.register("snap-other", scope + "-elsewhere");
        List<Sha256> shas = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            field.push(farmers(field, scope, round, round + 1, "Round"));
            shas.add(builder.build().await().indefinitely().stream()
                    .filter(b -> b.scope().equals(scope))
                    .findFirst()
                    .orElseThrow()
                    .sha256());
        }
        assertEquals(3, shas.stream().distinct().count());
        assertEquals(2, Sql.count(pool, "select count(*) from scope_snapshot where scope = '" + scope + "'"));
        assertFalse(store.contains(ChunkStore.Kind.SNAPSHOT, shas.getFirst()), "the oldest left the store");
        assertTrue(store.contains(ChunkStore.Kind.SNAPSHOT, shas.getLast()));

        String latest = shas.getLast().hex();
        given().header("Authorization", "Bearer " + other.token)
                .get("/v1/snapshots/" + latest)
                .then()
                .statusCode(403)
                .body("code", org.hamcrest.Matchers.equalTo("out-of-scope"));
        assertEquals(
                List.of(),
                given()
                        .header("Authorization", "Bearer " + other.token)
                        .get("/v1/snapshots")
                        .then()
                        .statusCode(200)
                        .extract()
                        .jsonPath()
                        .getList("snapshots.scope")
                        .stream()
                        .filter(scope::equals)
                        .toList());
        given().get("/v1/snapshots/" + latest).then().statusCode(401);
        range(field, latest, "bytes=0-9", 206);
    }
}
