package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.DeviceException;
import dev.outpost.device.store.RowStore;
import dev.outpost.device.store.TypedTables;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.schema.Table;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rows saved a batch per statement through the device SQLite's {@code outpost_rows} function on a real SQLite file (a
 * snapshot's install): every row exactly once, every column kind as a row-by-row write would store it, a row saved
 * again updated in place, and a batch that does not hold together refused whole by the transaction around it.
 */
class BulkInsertIT {
    private static final Schema SCHEMA = SchemaLoader.farmExample();

    @TempDir
    Path dir;

    @Test
    void rowsAndTypedRowsSavedInBulkReadBackAsWritten() {
        int count = 300;
        Table crops = SCHEMA.table("crop_record");
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("bulk.db"))) {
            SqliteRows rows = new SqliteRows(db);
            SqliteTypedTables typed = new SqliteTypedTables(db, SCHEMA.scopeColumn());
            List<RowStore.NewRow> states = new ArrayList<>();
            List<TypedTables.NewRow> records = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String id = String.format("c%04d", i);
                byte[] state = ("state of " + id).getBytes(StandardCharsets.UTF_8);
                states.add(new RowStore.NewRow("crop_record", id, "nakuru", state, i % 7 == 0, i % 5));
                // plot_id, crop, variety, planted_on, stage, bags_harvested, pests, yield_kg, notes
                records.add(new TypedTables.NewRow(
                        id,
                        "nakuru",
                        Arrays.asList(
                                "p" + i % 3,
                                i % 2 == 0 ? "maize" : "beans",
                                null,
                                "2026-03-1" + i % 9,
                                (long) i % 9,
                                (long) i,
                                "[\"aphids\"]",
                                i + ".25",
                                i % 3 == 0 ? "it's \"quoted\"" : "récolte 收成 \uD83C\uDF3E " + i),
                        i % 5));
            }
            db.inBulkTransaction(() -> {
                typed.ensure(SCHEMA);
                rows.insertAll(states);
                typed.insertAll(crops, records);
                return null;
            });
            List<RowStore.StoredRow> stored = db.inTransaction(() -> rows.findRows("crop_record", true));
            assertEquals(count, stored.size());
            for (int i = 0; i < count; i++) {
                RowStore.StoredRow s = stored.get(i);
                assertEquals(states.get(i).id(), s.id());
                assertArrayEquals(states.get(i).state(), s.state());
                assertEquals(i % 7 == 0, s.deleted());
            }
            List<Map<String, Object>> read = db.inTransaction(() -> typed.query(
                    SCHEMA,
                    "select id, plot_id, crop, variety, planted_on, stage, bags_harvested, pests, yield_kg, notes,"
                            + " _conflicts from crop_record order by id",
                    List.of(),
                    count + 1));
            assertEquals(count, read.size());
            for (int i = 0; i < count; i++) {
                Map<String, Object> r = read.get(i);
                List<Object> v = records.get(i).values();
                assertEquals(records.get(i).id(), r.get("id"));
                assertEquals(v.get(0), r.get("plot_id"));
                assertEquals(v.get(1), r.get("crop"));
                assertEquals(null, r.get("variety"));
                assertEquals(v.get(3), r.get("planted_on"));
                assertEquals(v.get(4), ((Number) r.get("stage")).longValue());
                assertEquals(v.get(5), ((Number) r.get("bags_harvested")).longValue());
                assertEquals(v.get(6), r.get("pests"));
                assertEquals(
                        new java.math.BigDecimal((String) v.get(7)),
                        new java.math.BigDecimal(r.get("yield_kg").toString()));
                assertEquals(v.get(8), r.get("notes"));
                assertEquals(i % 5, ((Number) r.get("_conflicts")).intValue());
            }

            // Saved again with other values: the same rows, updated (the upsert of a row the device held).
            List<RowStore.NewRow> again = new ArrayList<>();
            List<TypedTables.NewRow> changed = new ArrayList<>();
            for (int i = 0; i < count; i += 2) {
                again.add(new RowStore.NewRow("crop_record", states.get(i).id(), "nakuru", new byte[] {7}, false, 0));
                List<Object> v = new ArrayList<>(records.get(i).values());
                v.set(1, "sorghum");
                changed.add(new TypedTables.NewRow(records.get(i).id(), "nakuru", v, 0));
            }
            db.inBulkTransaction(() -> {
                rows.insertAll(again);
                typed.insertAll(crops, changed);
                return null;
            });
            List<RowStore.StoredRow> after = db.inTransaction(() -> rows.findRows("crop_record", true));
            assertEquals(count, after.size());
            assertArrayEquals(new byte[] {7}, after.get(0).state());
            assertArrayEquals(states.get(1).state(), after.get(1).state());
            List<Map<String, Object>> crops2 = db.inTransaction(() -> typed.query(
                    SCHEMA, "select crop, count(*) as n from crop_record group by crop order by crop", List.of(), 10));
            assertEquals(
                    List.of("beans", "sorghum"),
                    crops2.stream().map(m -> m.get("crop")).toList());
            assertEquals(count / 2, ((Number) crops2.get(1).get("n")).intValue());
        }
    }

    @Test
    void aBatchThatDoesNotHoldTogetherIsRefusedAndNothingOfItIsKept() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("broken.db"))) {
            SqliteRows rows = new SqliteRows(db);
            List<RowStore.NewRow> good = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                good.add(new RowStore.NewRow("crop_record", "c" + i, "nakuru", new byte[] {1, 2}, false, 0));
            }
            db.inBulkTransaction(() -> {
                rows.insertAll(good);
                return null;
            });
            // Two rows: a statement that fails on the second must not keep the first.
            RowBatch batch = new RowBatch(6, 64);
            batch.add("crop_record")
                    .add("x1")
                    .add("nakuru")
                    .add(new byte[] {9})
                    .add(0)
                    .add(0);
            batch.add("crop_record")
                    .add("x2")
                    .add("nakuru")
                    .add(new byte[] {9})
                    .add(0)
                    .add(0);
            byte[] whole = batch.toBytes();
            List<byte[]> broken = List.of(
                    Arrays.copyOf(whole, whole.length - 3), // the last value cut short
                    Arrays.copyOf(whole, whole.length + 1), // a row begun and not ended
                    tagged(whole, whole.length - 9, 9), // an unknown tag in the second row
                    width(whole, 0), // rows of no values
                    width(whole, 73)); // wider than the function
            for (byte[] b : broken) {
                DeviceException e = assertThrows(
                        DeviceException.class,
                        () -> db.inBulkTransaction(() -> SqliteDatabase.sql(() -> {
                            try (var ps =
                                    db.prepared("insert into row_state (tbl, id, scope, state, deleted, conflicts) "
                                            + RowBatch.select(6))) {
                                ps.statement().setBytes(1, b);
                                return ps.statement().executeUpdate();
                            }
                        })),
                        Arrays.toString(b));
                assertTrue(e.getMessage().contains("outpost_rows"), e.getMessage());
            }
            List<RowStore.StoredRow> stored = db.inTransaction(() -> rows.findRows("crop_record", true));
            assertEquals(
                    good.stream().map(RowStore.NewRow::id).sorted().toList(),
                    stored.stream().map(RowStore.StoredRow::id).sorted().toList(),
                    "nothing of a refused batch is kept");
        }
    }

    private static byte[] tagged(byte[] batch, int at, int tag) {
        byte[] b = batch.clone();
        b[at] = (byte) tag;
        return b;
    }

    private static byte[] width(byte[] batch, int columns) {
        byte[] b = batch.clone();
        b[0] = (byte) columns;
        return b;
    }
}
