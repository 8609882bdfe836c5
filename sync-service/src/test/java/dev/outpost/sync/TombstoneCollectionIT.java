package dev.outpost.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireFormat;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Set tombstones and replaced review clocks on real PostgreSQL: a row written again drops those stamped before the
 * batch retry window (they guard against nothing that can still arrive), keeps the recent ones, and shows the same
 * values; a retried batch within the window still changes nothing, and a device pulling the row sees what it saw.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class TombstoneCollectionIT {
    private static final RowStateCodec CODEC = new RowStateCodec(SchemaLoader.farmExample());

    @Inject
    Pool pool;

    private RowState stored(String id) {
        Row r = pool.preparedQuery("select scope, state from row_state where tbl = 'crop_record' and id = $1")
                .execute(Tuple.of(id))
                .await()
                .indefinitely()
                .iterator()
                .next();
        return CODEC.decode(
                "crop_record", id, r.getString("scope"), r.getBuffer("state").getBytes());
    }

    @Test
    void aRowWrittenAgainDropsTheTombstonesOlderThanTheRetryWindowAndShowsTheSame() {
        String scope = "gc-" + UUID.randomUUID().toString().substring(0, 8);
        String crop = scope + "-c1";
        TestDevice field = TestDevice.register("gc-field", scope);
        long old = System.currentTimeMillis() - Duration.ofDays(40).toMillis();
        Hlc added = new Hlc(old, 0, field.id);
        Hlc replacedYield = new Hlc(old, 1, field.id);
        String addBatch = "gc-add-" + UUID.randomUUID();
        field.sync(
                addBatch,
                List.of(
                        new Change("crop_record", crop, scope, "pests", new Op.SetAdd("aphids"), added),
                        new Change(
                                "crop_record",
                                crop,
                                scope,
                                "yield_kg",
                                new Op.Assign(new FieldValue.Decimal(new java.math.BigDecimal("120"))),
                                replacedYield)),
                WireFormat.BINARY);
        // Forty days ago the aphids went and the yield was corrected; today stalk borer came and went.
        field.push(List.of(
                new Change(
                        "crop_record",
                        crop,
                        scope,
                        "pests",
                        new Op.SetRemove("aphids", List.of(added)),
                        new Hlc(old, 2, field.id)),
                new Change(
                        "crop_record",
                        crop,
                        scope,
                        "yield_kg",
                        new Op.Assign(new FieldValue.Decimal(new java.math.BigDecimal("150")), List.of(replacedYield)),
                        new Hlc(old, 3, field.id))));
        Change borer = field.assign("crop_record", crop, scope, "notes", new FieldValue.Text("scouted"));
        Hlc borerAdded = field.clock.now();
        field.push(List.of(
                borer,
                new Change("crop_record", crop, scope, "pests", new Op.SetAdd("stalk borer"), borerAdded),
                new Change(
                        "crop_record",
                        crop,
                        scope,
                        "pests",
                        new Op.SetRemove("stalk borer", List.of(borerAdded)),
                        field.clock.now())));

        RowState row = stored(crop);
        FieldState.OrSet pests = (FieldState.OrSet) row.field("pests");
        assertFalse(pests.adds().containsKey("aphids"), "the old add went with its removal: " + pests);
        assertFalse(pests.removed().containsKey("aphids"), pests.toString());
        assertEquals(Set.of(borerAdded), pests.removed().get("stalk borer"), "a recent removal is kept");
        assertEquals(Set.of(), pests.elements());
        FieldState.MultiValue yield = (FieldState.MultiValue) row.field("yield_kg");
        assertEquals(new TreeSet<>(), yield.superseded(), "the old replaced clock went");
        assertEquals(
                new FieldValue.Decimal(new java.math.BigDecimal("150")), yield.winner(), "the value shown is the same");
        assertEquals(1, yield.live().size(), "and no conflict came back");

        // The first batch retried (its answer lost) within the window: answered from its id, nothing comes back.
        SyncResponse again = field.sync(
                addBatch,
                List.of(new Change("crop_record", crop, scope, "pests", new Op.SetAdd("aphids"), added)),
                WireFormat.BINARY);
        assertTrue(again.ack().duplicate(), "the retry is recognised by its batch id");
        assertEquals(Set.of(), ((FieldState.OrSet) stored(crop).field("pests")).elements());

        // A device that pulls the row's changes ends with what the service shows.
        TestDevice reader = TestDevice.register("gc-reader", scope);
        List<Change> pulled = reader.pullAll();
        RowState merged = RowState.empty("crop_record", crop, scope);
        for (Change c : pulled) {
            merged = dev.outpost.model.merge.RowMerge.apply(
                            SchemaLoader.farmExample().table("crop_record"), merged, c)
                    .row();
        }
        assertEquals(Set.of(), ((FieldState.OrSet) merged.field("pests")).elements());
        assertEquals(
                new FieldValue.Decimal(new java.math.BigDecimal("150")),
                ((FieldState.MultiValue) merged.field("yield_kg")).winner());
    }
}
