package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rows saved many per statement on a real SQLite file (a snapshot's install): every row exactly once whatever the
 * count (full statements and the halving rest), every column kind as a row-by-row write would store it.
 */
class BulkInsertIT {
    private static final Schema SCHEMA = SchemaLoader.farmExample();

    @TempDir
    Path dir;

    @Test
    void statementsCoverEveryRowOnceInAFewShapes() {
        TreeSet<Integer> shapes = new TreeSet<>();
        for (int count : new int[] {0, 1, 2, 127, 128, 129, 255, 256, 383, 1000}) {
            List<int[]> calls = new ArrayList<>();
            SqliteDatabase.inStatements(count, (from, n) -> calls.add(new int[] {from, n}));
            int next = 0;
            for (int[] c : calls) {
                assertEquals(next, c[0], "contiguous at " + count);
                assertTrue(Integer.bitCount(c[1]) == 1 && c[1] <= SqliteDatabase.ROWS_PER_STATEMENT, "" + c[1]);
                shapes.add(c[1]);
                next += c[1];
            }
            assertEquals(count, next);
        }
        assertEquals(8, shapes.size(), "128 down to 1: " + shapes);
    }

    @Test
    void rowsAndTypedRowsSavedInBulkReadBackAsWritten() {
        int count = 300; // two full statements and 44 in three more
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
                                "it's \"quoted\""),
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
        }
    }
}
