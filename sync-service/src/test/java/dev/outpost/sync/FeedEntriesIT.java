package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireFormat;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The feed stores one entry per pushed batch and scope (V7); pages still hold at most the page size of changes, so a
 * page can end inside an entry and the next one resumes there. Rows written before (one JSON change per feed row,
 * JSON row states) are still read.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class FeedEntriesIT {
    @Inject
    Pool pool;

    private static String scope() {
        return "entries-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void pagesEndInsideABatchsEntryAndResumeWhereTheyEnded() {
        String scope = scope();
        TestDevice a = TestDevice.register("pusher", scope);
        TestDevice b = TestDevice.register("puller", scope);
        List<Change> first = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            first.add(a.assign("farmer", UUID.randomUUID().toString(), scope, "name", new FieldValue.Text("F" + i)));
        }
        assertEquals(7, a.push(first).ack().applied());
        assertEquals(1, count("select count(*) from change_feed where scope = '" + scope + "'"), "one entry");

        SyncResponse p1 = pull(b, 3);
        SyncResponse p2 = pull(b, 3);
        SyncResponse p3 = pull(b, 3);
        assertEquals(first.subList(0, 3), p1.changes());
        assertEquals(first.subList(3, 6), p2.changes());
        assertEquals(first.subList(6, 7), p3.changes());
        assertTrue(p1.more() && p2.more());
        assertFalse(p3.more());
        assertEquals(3, p1.cursor().split(":").length, "a cursor inside an entry: " + p1.cursor());

        List<Change> second = List.of(
                a.assign("farmer", first.get(0).rowId(), scope, "village", new FieldValue.Text("Njoro")),
                a.assign("farmer", first.get(1).rowId(), scope, "village", new FieldValue.Text("Molo")));
        a.push(second);
        SyncResponse p4 = pull(b, 3);
        assertEquals(second, p4.changes());
        assertFalse(p4.more());
        assertEquals(List.of(), pull(b, 3).changes());

        // A cursor past the end of an entry (none is issued so) skips the rest of it; taken = 0 was never issued.
        String[] inside = p1.cursor().split(":");
        b.cursor = inside[0] + ":" + inside[1] + ":999";
        assertEquals(second, pull(b, 10).changes());
        given().header("Authorization", "Bearer " + b.token)
                .contentType(WireFormat.JSON.mediaType())
                .body(TestDevice.CODEC.encode(
                        new SyncRequest(b.id, 1, null, inside[0] + ":" + inside[1] + ":0", 3, List.of()),
                        WireFormat.JSON))
                .post("/v1/sync")
                .then()
                .statusCode(400)
                .body("code", equalTo("invalid-cursor"));
    }

    @Test
    void feedRowsAndRowStatesWrittenBeforeEntriesAreStillRead() {
        String scope = scope();
        TestDevice old = TestDevice.register("before-v7", scope);
        TestDevice now = TestDevice.register("after-v7", scope);
        String farmer = UUID.randomUUID().toString();
        Change legacy = old.assign("farmer", farmer, scope, "name", new FieldValue.Text("Wanjiru"));
        RowStateCodec codec = new RowStateCodec(SchemaLoader.farmExample());
        var fields = new java.util.TreeMap<String, FieldState>();
        fields.put("name", new FieldState.Register(new FieldValue.Text("Wanjiru"), legacy.clock()));
        String jsonState = codec.encode(new RowState("farmer", farmer, scope, fields, null, null));
        // What V1-V6 wrote: one JSON change a feed row, a JSON row state (V9 kept its UTF-8 bytes).
        pool.withTransaction(tx -> tx.preparedQuery(
                                "insert into change_feed (scope, device_id, change) values ($1, $2, $3)")
                        .execute(Tuple.of(scope, old.id, TestDevice.CODEC.encodeChange(legacy)))
                        .flatMap(x -> tx.preparedQuery(
                                        "insert into row_state (tbl, id, scope, state) values ('farmer', $1, $2, convert_to($3, 'UTF8'))")
                                .execute(Tuple.of(farmer, scope, jsonState))))
                .await()
                .indefinitely();

        assertEquals(List.of(legacy), now.pullAll());
        Change village = now.assign("farmer", farmer, scope, "village", new FieldValue.Text("Njoro"));
        assertEquals(1, now.push(List.of(village)).ack().applied());

        byte[] stored = Sql.rowState(pool, "farmer", farmer);
        assertNotEquals('{', stored[0], "rewritten in the binary form");
        RowState row = codec.decode("farmer", farmer, scope, stored);
        assertEquals(
                new FieldValue.Text("Wanjiru"),
                ((FieldState.Register) row.fields().get("name")).value());
        assertEquals(
                new FieldValue.Text("Njoro"),
                ((FieldState.Register) row.fields().get("village")).value());
        assertEquals(
                List.of(village),
                old.pullAll().stream().filter(c -> c.rowId().equals(farmer)).toList());
    }

    private static SyncResponse pull(TestDevice d, int pageSize) {
        SyncResponse r = TestDevice.CODEC.decodeResponse(
                d.post(new SyncRequest(d.id, 1, null, d.cursor, pageSize, List.of()), WireFormat.BINARY)
                        .then()
                        .statusCode(200)
                        .extract()
                        .asByteArray(),
                WireFormat.BINARY);
        d.cursor = r.cursor();
        return r;
    }

    private long count(String sql) {
        return Sql.count(pool, sql);
    }
}
