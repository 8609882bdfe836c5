package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The typed tables at the office ({@code outpost_data}), on real PostgreSQL: devices' edits land there merged, in
 * their natural types, in the same transaction; a delete removes the row; a rebuild from the row states writes what
 * the live path wrote.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class DataTablesIT {
    @Inject
    Pool pool;

    @Test
    void devicesEditsLandMergedAndTypedAndARebuildWritesTheSame() {
        String scope = "data-" + UUID.randomUUID().toString().substring(0, 8);
        TestDevice a = TestDevice.register("data-a", scope);
        TestDevice b = TestDevice.register("data-b", scope);
        Change name = a.assign("farmer", "f1", scope, "name", new FieldValue.Text("Wanjiru \"Mama\" Kamau"));
        Change otieno = a.assign("farmer", "f2", scope, "name", new FieldValue.Text("Otieno"));
        a.push(List.of(
                name,
                otieno,
                a.assign("farmer", "f1", scope, "village", new FieldValue.Text("Njoro")),
                a.assign("plot", "p1", scope, "farmer_id", new FieldValue.Text("f1")),
                a.assign("plot", "p1", scope, "area_ha", new FieldValue.Decimal(new BigDecimal("1.250"))),
                a.assign("crop_record", "c1", scope, "plot_id", new FieldValue.Text("p1")),
                a.assign("crop_record", "c1", scope, "planted_on", new FieldValue.Date(LocalDate.of(2026, 3, 10))),
                a.assign("crop_record", "c1", scope, "stage", new FieldValue.Int(2)),
                new Change("crop_record", "c1", scope, "bags_harvested", new Op.CounterTotal(5), a.clock.now()),
                new Change("crop_record", "c1", scope, "pests", new Op.SetAdd("aphids"), a.clock.now()),
                a.assign("crop_record", "c1", scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("1200")))));
        // B, concurrently: more bags, another pest, a higher stage (max keeps it), a rival yield.
        b.push(List.of(
                new Change("crop_record", "c1", scope, "bags_harvested", new Op.CounterTotal(7), b.clock.now()),
                new Change("crop_record", "c1", scope, "pests", new Op.SetAdd("stalk borer"), b.clock.now()),
                b.assign("crop_record", "c1", scope, "stage", new FieldValue.Int(3)),
                b.assign("crop_record", "c1", scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("1350")))));
        // A deletes f2, having seen its name.
        a.push(List.of(new Change(
                "farmer",
                "f2",
                scope,
                null,
                new Op.Delete(new TreeMap<String, java.util.SortedSet<dev.outpost.model.clock.Hlc>>(
                        Map.of("name", new TreeSet<>(List.of(otieno.clock()))))),
                a.clock.now())));

        Row crop = one("select * from outpost_data.crop_record where id = 'c1' and district = $1", scope);
        assertEquals("p1", crop.getString("plot_id"));
        assertEquals(LocalDate.of(2026, 3, 10), crop.getLocalDate("planted_on"));
        assertEquals(3L, crop.getLong("stage"), "max");
        assertEquals(12L, crop.getLong("bags_harvested"), "counter total 5 + 7");
        assertEquals(List.of("aphids", "stalk borer"), sorted(crop.getArrayOfStrings("pests")));
        assertEquals(1, crop.getInteger("_conflicts"), "the two yields stay open for review");
        BigDecimal yield = crop.getBigDecimal("yield_kg");
        assertTrue(yield.compareTo(new BigDecimal("1200")) == 0 || yield.compareTo(new BigDecimal("1350")) == 0);
        assertTrue(crop.getValue("notes") == null, "a field never written is null");
        Row plot = one("select * from outpost_data.plot where id = 'p1' and district = $1", scope);
        assertEquals(0, new BigDecimal("1.25").compareTo(plot.getBigDecimal("area_ha")), "numeric, exact");
        Row farmer = one("select * from outpost_data.farmer where id = 'f1' and district = $1", scope);
        assertEquals("Wanjiru \"Mama\" Kamau", farmer.getString("name"));
        assertEquals(
                0L,
                one("select count(*) as n from outpost_data.farmer where id = 'f2' and district = $1", scope)
                        .getLong("n"),
                "a deleted row is removed");
        // Types are PostgreSQL's own: SQL compares and aggregates them directly.
        assertEquals(
                12L,
                one(
                                "select sum(bags_harvested)::bigint as n from outpost_data.crop_record c"
                                        + " join outpost_data.plot p on p.id = c.plot_id where c.district = $1"
                                        + " and 'aphids' = any(c.pests) and p.area_ha > 1.2",
                                scope)
                        .getLong("n"));

        List<String> live = snapshot(scope);
        assertEquals(3, live.size(), "f1, p1, c1 (f2 deleted): " + live);
        Map<?, ?> rebuilt = given().header("Authorization", TestDevice.ADMIN)
                .post("/v1/admin/data/rebuild")
                .then()
                .statusCode(200)
                .extract()
                .as(Map.class);
        assertEquals("outpost_data", rebuilt.get("schema"));
        assertTrue(((Number) rebuilt.get("rows")).longValue() >= 3);
        assertEquals(live, snapshot(scope), "the rebuild wrote what the live path wrote");
        given().post("/v1/admin/data/rebuild").then().statusCode(401);
    }

    @Test
    void keywordsLongNamesAndEveryTypeWork() {
        String longName = "a_very_long_field_name_that_goes_on_and_on_until_sixty_three_ch";
        dev.outpost.model.schema.Schema odd = dev.outpost.model.schema.SchemaLoader.parse("version: 1\n"
                + "scope: region\n"
                + "tables:\n"
                + "  order:\n"
                + "    columns:\n"
                + "      select: text\n"
                + "      user: {type: ref, to: order}\n"
                + "      " + longName + ": {type: int, index: true}\n"
                + "      tags: {type: set, merge: set}\n"
                + "      when: timestamp\n"
                + "      ok: bool\n"
                + "      doc: json\n");
        var tables = new dev.outpost.sync.store.DataTables("odd_names_test", odd);
        tables.ensure(pool).await().indefinitely();
        tables.ensure(pool).await().indefinitely(); // idempotent
        var clock = new dev.outpost.model.clock.HybridClock("odd", System::currentTimeMillis, null);
        var table = odd.table("order");
        var row = dev.outpost.model.merge.RowState.empty("order", "o1", "north");
        for (Change c : List.of(
                new Change("order", "o1", "north", "select", new Op.Assign(new FieldValue.Text("it's")), clock.now()),
                new Change("order", "o1", "north", "user", new Op.Assign(new FieldValue.Text("o0")), clock.now()),
                new Change("order", "o1", "north", longName, new Op.Assign(new FieldValue.Int(42)), clock.now()),
                new Change("order", "o1", "north", "tags", new Op.SetAdd("b, \"c\""), clock.now()),
                new Change("order", "o1", "north", "tags", new Op.SetAdd("a"), clock.now()),
                new Change(
                        "order",
                        "o1",
                        "north",
                        "when",
                        new Op.Assign(new FieldValue.Timestamp(java.time.Instant.parse("2026-12-05T08:30:00Z"))),
                        clock.now()),
                new Change("order", "o1", "north", "ok", new Op.Assign(new FieldValue.Bool(true)), clock.now()),
                new Change(
                        "order",
                        "o1",
                        "north",
                        "doc",
                        new Op.Assign(new FieldValue.Json("{\"k\":[1,2]}")),
                        clock.now()))) {
            row = dev.outpost.model.merge.RowMerge.apply(table, row, c).row();
        }
        var written = tables.row(row, false, 0);
        pool.withTransaction(tx -> tables.write(tx, List.of(written))).await().indefinitely();
        Row r = pool.query("select * from odd_names_test.\"order\"")
                .execute()
                .await()
                .indefinitely()
                .iterator()
                .next();
        assertEquals("it's", r.getString("select"));
        assertEquals("o0", r.getString("user"));
        assertEquals(42L, r.getLong(longName));
        assertEquals(List.of("a", "b, \"c\""), java.util.Arrays.asList(r.getArrayOfStrings("tags")));
        assertEquals(
                java.time.Instant.parse("2026-12-05T08:30:00Z"),
                r.getOffsetDateTime("when").toInstant());
        assertTrue(r.getBoolean("ok"));
        assertEquals(
                2,
                pool.query("select jsonb_array_length(doc->'k') as n from odd_names_test.\"order\"")
                        .execute()
                        .await()
                        .indefinitely()
                        .iterator()
                        .next()
                        .getInteger("n"));
        pool.withTransaction(tx -> tables.write(
                        tx,
                        List.of(tables.row(dev.outpost.model.merge.RowState.empty("order", "o1", "north"), true, 0))))
                .await()
                .indefinitely();
        assertEquals(
                0,
                pool.query("select count(*)::int as n from odd_names_test.\"order\"")
                        .execute()
                        .await()
                        .indefinitely()
                        .iterator()
                        .next()
                        .getInteger("n"),
                "a removal deletes the row");
    }

    private Row one(String sql, String scope) {
        var rows = pool.preparedQuery(sql).execute(Tuple.of(scope)).await().indefinitely();
        assertEquals(1, rows.size(), sql);
        return rows.iterator().next();
    }

    /** Every typed row of the scope, every column as text, in table and id order. */
    private List<String> snapshot(String scope) {
        List<String> out = new ArrayList<>();
        for (String table : List.of("farmer", "plot", "crop_record")) {
            for (Row r : pool.preparedQuery(
                            "select t::text as row from outpost_data." + table + " t where district = $1 order by id")
                    .execute(Tuple.of(scope))
                    .await()
                    .indefinitely()) {
                out.add(table + " " + r.getString("row"));
            }
        }
        return out;
    }

    private static List<String> sorted(String[] values) {
        assertFalse(values == null);
        return java.util.Arrays.stream(values).sorted().toList();
    }
}
