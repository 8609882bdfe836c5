package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.sync.retention.RetentionJob;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Retention on real PostgreSQL: applied batch ids past the retry window and old model reports are pruned, a bounded
 * number per look and one look at a time across replicas; a retry whose batch id was pruned counts nothing twice.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class RetentionIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    RetentionJob retention;

    @Inject
    Pool pool;

    @Test
    void aRetryWhoseBatchIdWasPrunedIsAppliedAgainAndCountsNothingTwice() throws Exception {
        String scope = "ret-" + UUID.randomUUID().toString().substring(0, 8);
        TestDevice field = TestDevice.register("ret-field", scope);
        TestDevice office = TestDevice.register("ret-office", scope);
        String crop = scope + "-c1";
        List<Change> batch = List.of(
                field.assign("crop_record", crop, scope, "crop", new FieldValue.Text("maize")),
                new Change("crop_record", crop, scope, "bags_harvested", new Op.CounterTotal(7), field.clock.now()));
        String batchId = "b-" + UUID.randomUUID();
        SyncResponse first = field.sync(batchId, batch, WireFormat.BINARY);
        assertEquals(2, first.ack().applied());
        assertTrue(field.sync(batchId, batch, WireFormat.BINARY).ack().duplicate(), "a retry within the window");
        office.pullAll();

        // The batch falls out of the retry window and a look prunes its id.
        Sql.execute(pool, "update sync_batch set created_at = now() - interval '31 days' where batch_id = $1", batchId);
        RetentionJob.Pruned pruned =
                retention.run(Instant.now(), 10_000).await().indefinitely();
        assertTrue(pruned.ran());
        assertTrue(pruned.batchIds() >= 1, pruned.toString());
        assertEquals(0, Sql.count(pool, "select count(*) from sync_batch where batch_id = '" + batchId + "'"));

        // Its retry now arrives (a device offline past the window): applied again, and nothing changes.
        SyncResponse late = field.sync(batchId, batch, WireFormat.BINARY);
        assertFalse(late.ack().duplicate(), "the id is forgotten");
        assertEquals(0, late.ack().applied(), "every change of it was held already");
        JsonNode row = JSON.readTree(given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/data/crop_record/" + crop)
                .then()
                .statusCode(200)
                .extract()
                .asString());
        assertEquals(7, row.get("fields").get("bags_harvested").get("value").asInt(), row.toString());
        assertEquals(
                List.of(),
                office.pullAll().stream().filter(c -> c.rowId().equals(crop)).toList(),
                "the late retry put nothing new in the feed");
    }

    @Test
    void modelReportsOlderThanTheirAgeArePrunedAndTheDevicesCurrentModelStays() {
        String scope = "ret-" + UUID.randomUUID().toString().substring(0, 8);
        String name = ArtifactIT.unique("ret");
        ArtifactIT.uploadPairDesiringFirst(name, 97, 1 << 16);
        TestDevice d = TestDevice.register("ret-model", scope);
        RolloutIT.report(d, name, 1, 2, 2, "installed", null);
        RolloutIT.report(d, name, 1, 2, 2, "installed", null);
        String mine = "from model_report where device_id = '" + d.id + "'";
        assertEquals(2, Sql.count(pool, "select count(*) " + mine));
        Sql.execute(
                pool,
                "update model_report set reported_at = now() - interval '91 days' where id = (select min(id) " + mine
                        + ")");

        RetentionJob.Pruned pruned =
                retention.run(Instant.now(), 10_000).await().indefinitely();
        assertTrue(pruned.modelReports() >= 1, pruned.toString());
        assertEquals(1, Sql.count(pool, "select count(*) " + mine), "the recent report stays");
        assertEquals(
                2,
                Sql.count(pool, "select active_version from device_model where device_id = '" + d.id + "'"),
                "the device's current model stays");
    }

    @Test
    void eachLookDeletesABoundedNumberAndOnlyOneReplicaLooksAtATime() {
        String device = TestDevice.register("ret-bound", "ret-bound").id;
        for (int i = 0; i < 5; i++) {
            Sql.execute(
                    pool,
                    "insert into sync_batch (batch_id, device_id, applied, created_at)"
                            + " values ($1, $2, 1, now() - interval '40 days')",
                    "b-old-" + UUID.randomUUID(),
                    device);
        }
        long old = Sql.count(pool, "select count(*) from sync_batch where created_at < now() - interval '30 days'");
        assertTrue(old >= 5);

        // Another replica holds the look: this one skips its turn and deletes nothing.
        RetentionJob.Pruned skipped = pool.withTransaction(tx -> tx.preparedQuery("select pg_advisory_xact_lock($1)")
                        .execute(Tuple.of(RetentionJob.LOCK_KEY))
                        .flatMap(x -> retention.run(Instant.now(), 2)))
                .await()
                .indefinitely();
        assertFalse(skipped.ran());
        assertEquals(0, skipped.batchIds());

        long deleted = 0;
        int looks = 0;
        for (RetentionJob.Pruned p; (p = retention.run(Instant.now(), 2).await().indefinitely()).batchIds() > 0; ) {
            assertTrue(p.batchIds() <= 2, "at most the bound per look: " + p);
            deleted += p.batchIds();
            looks++;
        }
        assertEquals(old, deleted);
        assertTrue(looks >= 3, "five or more rows at two a look take three looks or more: " + looks);
        assertEquals(
                0, Sql.count(pool, "select count(*) from sync_batch where created_at < now() - interval '30 days'"));
    }
}
