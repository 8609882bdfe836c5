package dev.outpost.device.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.rows.RowRecord;
import dev.outpost.device.rows.Rows;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.WireCodec;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The typed tables on a real SQLite home: kept by local writes and pulled pages alike, equal to what {@code get}
 * shows for every row, rebuilt from the row states to the same content, made for a home of the previous layout, and
 * queried read-only (writes, other tables and several statements are refused, nothing changed).
 */
class TypedTablesIT {
    private static final Schema SCHEMA = SchemaLoader.farmExample();

    @TempDir
    Path dir;

    private final AtomicLong wall = new AtomicLong(1_800_000_000_000L);

    @Test
    void theTypedTablesShowWhatGetShowsAfterWritesAndPullsAndARebuild() throws Exception {
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru"));
        FakeSyncServer server = new FakeSyncServer(SCHEMA, Set.of("nakuru"), wall::get, 3);
        HybridClock other = new HybridClock("d2", wall::get, null);
        Random random = new Random(3);
        Map<String, List<Map<String, Object>>> live = new LinkedHashMap<>();
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            for (int round = 0; round < 20; round++) {
                wall.addAndGet(1_000);
                String crop = "c" + random.nextInt(8);
                device.rows().put("plot", "p" + random.nextInt(3), Map.of("area_ha", "1." + random.nextInt(9)));
                device.rows()
                        .put(
                                "crop_record",
                                crop,
                                Map.of(
                                        "plot_id",
                                        "p" + random.nextInt(3),
                                        "stage",
                                        "" + random.nextInt(9),
                                        "yield_kg",
                                        random.nextInt(2000) + ".25",
                                        "planted_on",
                                        "2026-03-1" + random.nextInt(9)));
                device.rows().add("crop_record", crop, "bags_harvested", 1 + random.nextInt(3));
                device.rows().tag("crop_record", crop, "pests", List.of("+pest" + random.nextInt(3)));
                server.pushAs("d2", List.of(otherWrite(server, other, "farmer", "f" + random.nextInt(4), random)));
                if (random.nextInt(4) == 0) {
                    RowState row = server.rows().get("farmer/f0");
                    if (row != null) {
                        server.pushAs("d2", List.of(LocalWrites.delete(row, other.now())));
                    }
                }
                device.syncClient(server).sync();
            }
            for (String table : SCHEMA.tables().keySet()) {
                List<Map<String, Object>> rows =
                        device.rows().query("select * from " + table + " order by id", List.of());
                assertEquals(expected(device.rows().list(table)), normalized(table, rows), table);
                live.put(table, rows);
            }
            assertTrue(
                    live.get("crop_record").size() >= 4 && !live.get("farmer").isEmpty(), live.toString());
            // Indexed reads an app would make: one plot's crop records, by a parameter.
            List<Map<String, Object>> ofPlot = device.rows()
                    .query(
                            "select c.id from crop_record c join plot p on p.id = c.plot_id where p.id = ?",
                            List.of("p1"));
            assertEquals(
                    live.get("crop_record").stream()
                            .filter(r -> "p1".equals(r.get("plot_id")))
                            .map(r -> r.get("id"))
                            .toList(),
                    ofPlot.stream().map(r -> r.get("id")).sorted().toList());
        }
        // Rebuilt from the row states (tables dropped, as after a damaged file or a new layout): the same content.
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve(DeviceHome.DB_FILE));
                Statement s = c.createStatement()) {
            for (String table : SCHEMA.tables().keySet()) {
                s.execute("drop table \"" + table + "\"");
            }
            s.execute("delete from meta where key = 'typed_tables'");
        }
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            for (String table : SCHEMA.tables().keySet()) {
                assertEquals(
                        live.get(table), device.rows().query("select * from " + table + " order by id", List.of()));
            }
        }
    }

    @Test
    void aFilteredOrderedListPagesThroughEveryMatchingRowOnceNullsLast() {
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru"));
        try (OutpostDevice device = OutpostDevice.open(home)) {
            Random random = new Random(11);
            for (int i = 0; i < 60; i++) {
                Map<String, String> fields = new LinkedHashMap<>();
                fields.put("plot_id", "p" + random.nextInt(2));
                if (random.nextInt(4) != 0) { // a quarter have no stage: they must still be listed, after the others
                    fields.put("stage", Integer.toString(random.nextInt(5)));
                }
                device.rows().put("crop_record", String.format("c%02d", i), fields);
            }
            for (boolean desc : List.of(false, true)) {
                // Expected: the p1 rows by stage then id, in the direction asked; rows without a stage last, by id in
                // the same direction.
                List<String> expected = device.rows().list("crop_record").stream()
                        .filter(r -> field(r, "plot_id").equals(new FieldValue.Text("p1")))
                        .sorted((x, y) -> {
                            FieldValue sx = field(x, "stage"), sy = field(y, "stage");
                            if ((sx == null) != (sy == null)) {
                                return sx == null ? 1 : -1;
                            }
                            int c = sx == null
                                    ? 0
                                    : Long.compare(((FieldValue.Int) sx).value(), ((FieldValue.Int) sy).value());
                            c = c != 0 ? c : x.id().compareTo(y.id());
                            return desc ? -c : c;
                        })
                        .map(RowRecord::id)
                        .toList();
                List<String> paged = new ArrayList<>();
                String after = null;
                for (int page = 0; page < 100; page++) {
                    List<RowRecord> got = device.rows()
                            .find("crop_record", new Rows.Selection(Map.of("plot_id", "p1"), "stage", desc, 7, after));
                    got.forEach(r -> paged.add(r.id()));
                    if (got.size() < 7) {
                        break;
                    }
                    after = got.getLast().id();
                }
                assertEquals(expected, paged, desc ? "descending" : "ascending");
            }
            for (Rows.Selection bad : List.of(
                    new Rows.Selection(Map.of("no_such_field", "x"), null, false, 10, null),
                    new Rows.Selection(Map.of(), "no_such_field", false, 10, null),
                    new Rows.Selection(Map.of(), null, false, 0, null),
                    new Rows.Selection(Map.of(), null, false, 10, "nobody"))) {
                DeviceException e = assertThrows(
                        DeviceException.class, () -> device.rows().find("crop_record", bad), bad.toString());
                assertEquals(ExitCode.BAD_INPUT, e.exitCode(), bad.toString());
            }
        }
    }

    private static FieldValue field(RowRecord r, String name) {
        return r.fields().stream()
                .filter(f -> f.name().equals(name))
                .findFirst()
                .orElseThrow()
                .value();
    }

    @Test
    void aQueryMayOnlyReadTheTypedTables() {
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru"));
        try (OutpostDevice device = OutpostDevice.open(home)) {
            device.rows().put("farmer", "f1", Map.of("name", "Njeri"));
            for (String refused : List.of(
                    "insert into farmer (id, district) values ('x', 'nakuru')",
                    "delete from farmer",
                    "select * from row_state",
                    "select * from farmer where id in (select id from change_log)",
                    "select * from farmer; delete from farmer",
                    "select * from sqlite_schema",
                    "pragma table_info(farmer)",
                    "attach database 'x.db' as x",
                    "select * from no_such_table")) {
                DeviceException e =
                        assertThrows(DeviceException.class, () -> device.rows().query(refused, List.of()), refused);
                assertEquals(ExitCode.BAD_INPUT, e.exitCode(), refused);
            }
            DeviceException missing = assertThrows(
                    DeviceException.class, () -> device.rows().query("select * from farmer where id = ?", List.of()));
            assertTrue(missing.getMessage().contains("1 parameter"), missing.getMessage());
            assertEquals(
                    List.of(Map.of("n", 1)),
                    device.rows().query("select count(*) as n from farmer", List.of()),
                    "nothing was changed");
        }
    }

    @Test
    void theFieldsTheSchemaMarksAreIndexedAndQueriesOnThemUseTheIndex() throws Exception {
        Path home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru"));
        try (OutpostDevice device = OutpostDevice.open(home)) {
            device.rows().put("farmer", "f1", Map.of("name", "Njeri", "village", "Njoro"));
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve("outpost.db"));
                Statement s = c.createStatement()) {
            Set<String> indexes = new java.util.TreeSet<>();
            try (var rs = s.executeQuery("select name from sqlite_schema where type = 'index' and sql is not null")) {
                while (rs.next()) {
                    indexes.add(rs.getString(1));
                }
            }
            for (String marked :
                    List.of("farmer_village", "crop_record_crop", "crop_record_plot_id", "plot_farmer_id")) {
                assertTrue(indexes.contains(marked), marked + " in " + indexes);
            }
            assertTrue(!indexes.contains("farmer_name"), "an unmarked field has no index: " + indexes);
            StringBuilder plan = new StringBuilder();
            try (var rs = s.executeQuery("explain query plan select id from farmer where village = 'Njoro'")) {
                while (rs.next()) {
                    plan.append(rs.getString("detail")).append('\n');
                }
            }
            assertTrue(plan.toString().contains("INDEX farmer_village"), plan.toString());
        }
    }

    @Test
    void aHomeOfThePreviousLayoutGetsItsTypedTablesFilledFromItsRows() throws Exception {
        Path home = dir.resolve("home-v3");
        Files.createDirectories(home);
        for (String f : List.of("outpost.db", "schema.yaml", "schema.json")) {
            Files.copy(Path.of("src/test/fixtures/home-v3", f), home.resolve(f));
        }
        try (OutpostDevice device = OutpostDevice.open(home)) {
            assertEquals(
                    List.of(Map.of("id", "f1", "name", "Njeri Wambui", "village", "Njoro")),
                    device.rows().query("select id, name, village from farmer", List.of()),
                    "f2 was deleted");
            Map<String, Object> c1 = device.rows()
                    .query("select * from crop_record where id = ?", List.of("c1"))
                    .getFirst();
            assertEquals(3, ((Number) c1.get("bags_harvested")).intValue());
            assertEquals("[\"aphids\"]", c1.get("pests"));
            assertEquals(1200.5, ((Number) c1.get("yield_kg")).doubleValue());
            assertEquals("2026-03-10", c1.get("planted_on"));
            assertEquals(13, device.status().pending(), "every pending change kept");
        }
    }

    private static Change otherWrite(FakeSyncServer server, HybridClock clock, String table, String id, Random random) {
        RowState row = server.rows().getOrDefault(table + "/" + id, RowState.empty(table, id, "nakuru"));
        Change c = LocalWrites.assign(row, "village", new FieldValue.Text("v" + random.nextInt(5)), clock.now());
        RowMerge.apply(SCHEMA.table(table), row, c);
        return c;
    }

    /** What {@code get} shows, as the typed table holds it, compared through {@link #normalized}. */
    private static List<Map<String, String>> expected(List<RowRecord> records) {
        List<Map<String, String>> out = new ArrayList<>();
        for (RowRecord r : records) {
            Map<String, String> row = new LinkedHashMap<>();
            row.put("id", r.id());
            row.put(SCHEMA.scopeColumn(), r.scope());
            for (RowRecord.Field f : r.fields()) {
                Column c = SCHEMA.table(r.table()).getColumn(f.name()).orElseThrow();
                row.put(f.name(), text(c, f.value() == null ? null : WireCodec.encodeValue(f.value())));
            }
            out.add(row);
        }
        return out;
    }

    private static List<Map<String, String>> normalized(String table, List<Map<String, Object>> rows) {
        List<Map<String, String>> out = new ArrayList<>();
        for (Map<String, Object> r : rows) {
            Map<String, String> row = new LinkedHashMap<>();
            row.put("id", (String) r.get("id"));
            row.put(SCHEMA.scopeColumn(), (String) r.get(SCHEMA.scopeColumn()));
            for (Column c : SCHEMA.table(table).columns().values()) {
                Object v = r.get(c.name());
                row.put(
                        c.name(),
                        v == null ? null : text(c, v instanceof String s && isJsonText(c) ? s : jsonOf(c, v)));
            }
            out.add(row);
        }
        return out;
    }

    private static boolean isJsonText(Column c) {
        return c.type() == ColumnType.SET || c.type() == ColumnType.JSON;
    }

    /** A typed column's value as the JSON {@code get} prints for it. */
    private static String jsonOf(Column c, Object v) {
        return switch (c.type()) {
            case INT, DECIMAL -> new BigDecimal(v.toString()).toPlainString();
            case BOOL -> ((Number) v).intValue() != 0 ? "true" : "false";
            default -> "\"" + v + "\"";
        };
    }

    /** JSON text compared by value: numbers without trailing zeros. */
    private static String text(Column c, String json) {
        if (json == null || json.equals("null")) {
            return null;
        }
        return c.type() == ColumnType.DECIMAL || c.type() == ColumnType.INT
                ? new BigDecimal(json).stripTrailingZeros().toPlainString()
                : json;
    }
}
