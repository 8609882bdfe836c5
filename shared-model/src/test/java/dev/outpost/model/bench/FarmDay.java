package dev.outpost.model.bench;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.RowView;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A seeded day of one extension officer's edits on the farm schema: registering farmers, mapping plots, recording
 * crops, then mostly updating what exists (stages move on, bags are counted, pests tagged, notes written). Each edit
 * touches 1 to 3 fields. Produces both the field-level changes and, per edit, the full record after the edit (what
 * a naive record-level sync would send).
 */
public final class FarmDay {
    public static final String DISTRICT = "nakuru";

    /** One user edit: the changes it made and the whole record afterwards. */
    public record Edit(List<Change> changes, String table, RowState after) {}

    private static final String[] NAMES = {
        "Wanjiru Kamau",
        "Otieno Odhiambo",
        "Achieng Atieno",
        "Kiprono Kiprotich",
        "Chebet Jepkosgei",
        "Mwangi Njoroge",
        "Amina Hassan",
        "Baraka Mutua"
    };
    private static final String[] VILLAGES = {"Njoro", "Molo", "Rongai", "Bahati", "Subukia", "Gilgil"};
    private static final String[] SOILS = {"loam", "clay loam", "sandy loam", "volcanic"};
    private static final String[] CROPS = {"maize", "beans", "potato", "wheat", "sorghum"};
    private static final String[] VARIETIES = {"H614", "DH04", "Shangi", "Kenya Mavuno", "Gadam"};
    private static final String[] PESTS = {"fall armyworm", "aphids", "stalk borer", "cutworm", "late blight"};
    private static final String[] NOTES = {
        "good germination",
        "needs top dressing",
        "weeded this week",
        "leaf yellowing on east side",
        "farmer reports dry spell",
        "replanted gaps",
        "harvest expected next month"
    };

    private final Schema schema;
    private final Random random;
    private final HybridClock clock;
    private final AtomicLong wall;
    private final Map<String, RowState> rows = new LinkedHashMap<>();
    private final List<String> farmers = new ArrayList<>();
    private final List<String> plots = new ArrayList<>();
    private final List<String> crops = new ArrayList<>();

    public FarmDay(Schema schema, long seed, String deviceId) {
        this.schema = schema;
        this.random = new Random(seed);
        this.wall = new AtomicLong(1_763_880_000_000L); // 2025-11-23 06:40 UTC, start of a field day
        this.clock = new HybridClock(deviceId, wall::get, null);
    }

    public List<Edit> edits(int count) {
        List<Edit> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            wall.addAndGet(2_000 + random.nextInt(20_000)); // an edit every few seconds over a working day
            int roll = random.nextInt(100);
            if (farmers.isEmpty() || roll < 8) {
                out.add(newFarmer());
            } else if (plots.isEmpty() || roll < 18) {
                out.add(newPlot());
            } else if (crops.isEmpty() || roll < 33) {
                out.add(newCrop());
            } else {
                out.add(update());
            }
        }
        return out;
    }

    private Edit newFarmer() {
        String id = uuid7();
        farmers.add(id);
        return edit(
                "farmer",
                id,
                fields(
                        "name",
                        text(pick(NAMES)),
                        "phone",
                        text("+2547" + (10_000_000 + random.nextInt(89_999_999))),
                        "village",
                        text(pick(VILLAGES))));
    }

    private Edit newPlot() {
        String id = uuid7();
        plots.add(id);
        Map<String, FieldValue> f = fields("farmer_id", text(farmers.get(random.nextInt(farmers.size()))));
        f.put("area_ha", new FieldValue.Decimal(BigDecimal.valueOf(5 + random.nextInt(400), 2)));
        if (random.nextBoolean()) {
            f.put("soil_type", text(pick(SOILS)));
        }
        return edit("plot", id, f);
    }

    private Edit newCrop() {
        String id = uuid7();
        crops.add(id);
        Map<String, FieldValue> f = fields("plot_id", text(plots.get(random.nextInt(plots.size()))));
        f.put("crop", text(pick(CROPS)));
        if (random.nextBoolean()) {
            f.put("planted_on", new FieldValue.Date(LocalDate.of(2025, 9, 1).plusDays(random.nextInt(80))));
        }
        return edit("crop_record", id, f);
    }

    private Edit update() {
        int roll = random.nextInt(100);
        if (roll < 12) {
            String id = farmers.get(random.nextInt(farmers.size()));
            return edit(
                    "farmer",
                    id,
                    fields(
                            random.nextBoolean() ? "village" : "phone",
                            random.nextBoolean()
                                    ? text(pick(VILLAGES))
                                    : text("+2547" + (10_000_000 + random.nextInt(89_999_999)))));
        }
        if (roll < 20) {
            String id = plots.get(random.nextInt(plots.size()));
            return edit("plot", id, fields("soil_type", text(pick(SOILS))));
        }
        String id = crops.get(random.nextInt(crops.size()));
        RowState row = row("crop_record", id);
        List<Change> changes = new ArrayList<>();
        var now = clock.now();
        int fieldsTouched = 1 + random.nextInt(3);
        List<String> options =
                new ArrayList<>(List.of("stage", "bags_harvested", "pests", "notes", "variety", "yield_kg"));
        for (int i = 0; i < fieldsTouched; i++) {
            String field = options.remove(random.nextInt(options.size()));
            Change c = switch (field) {
                case "stage" -> LocalWrites.assign(row, field, new FieldValue.Int(1 + random.nextInt(9)), now);
                case "bags_harvested" -> LocalWrites.increment(row, field, 1 + random.nextInt(12), now);
                case "pests" -> LocalWrites.addElement(row, field, pick(PESTS), now);
                case "yield_kg" ->
                    LocalWrites.assign(
                            row,
                            field,
                            new FieldValue.Decimal(BigDecimal.valueOf(100 + random.nextInt(40_000), 1)),
                            now);
                case "variety" -> LocalWrites.assign(row, field, text(pick(VARIETIES)), now);
                default -> LocalWrites.assign(row, field, text(pick(NOTES)), now);
            };
            row = apply(row, c);
            changes.add(c);
        }
        return new Edit(changes, "crop_record", row);
    }

    private Edit edit(String table, String id, Map<String, FieldValue> values) {
        RowState row = row(table, id);
        var now = clock.now();
        List<Change> changes = new ArrayList<>();
        for (var e : values.entrySet()) {
            Change c = LocalWrites.assign(row, e.getKey(), e.getValue(), now);
            row = apply(row, c);
            changes.add(c);
        }
        return new Edit(changes, table, row);
    }

    private RowState row(String table, String id) {
        return rows.getOrDefault(table + "/" + id, RowState.empty(table, id, DISTRICT));
    }

    private RowState apply(RowState row, Change c) {
        RowState after = RowMerge.apply(schema.table(c.table()), row, c).row();
        rows.put(c.table() + "/" + c.rowId(), after);
        return after;
    }

    /** The naive sync's document for one edit: every column of the record, plus who and when. */
    public static String fullRecordJson(Schema schema, Edit edit, String deviceId, long updatedAtMs) {
        Table table = schema.table(edit.table());
        StringBuilder b = new StringBuilder(512);
        b.append("{\"table\":\"")
                .append(edit.table())
                .append("\",\"record\":{\"id\":\"")
                .append(edit.after().id())
                .append("\",\"")
                .append(schema.scopeColumn())
                .append("\":\"")
                .append(edit.after().scope())
                .append('"');
        for (Column c : table.columns().values()) {
            var state = edit.after().field(c.name());
            b.append(",\"").append(c.name()).append("\":");
            b.append(state == null ? "null" : jsonOf(RowView.valueOf(state)));
        }
        b.append("},\"updated_at\":")
                .append(updatedAtMs)
                .append(",\"updated_by\":\"")
                .append(deviceId)
                .append("\"}");
        return b.toString();
    }

    private static String jsonOf(FieldValue v) {
        return switch (v) {
            case FieldValue.Null n -> "null";
            case FieldValue.Text t -> "\"" + t.value().replace("\"", "\\\"") + "\"";
            case FieldValue.Int i -> Long.toString(i.value());
            case FieldValue.Decimal d -> d.value().toPlainString();
            case FieldValue.Bool bo -> Boolean.toString(bo.value());
            case FieldValue.Date d -> "\"" + d.value() + "\"";
            case FieldValue.Timestamp t -> "\"" + t.value() + "\"";
            case FieldValue.Json j -> j.canonicalText();
        };
    }

    private Map<String, FieldValue> fields(Object... kv) {
        Map<String, FieldValue> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], (FieldValue) kv[i + 1]);
        }
        return m;
    }

    private static FieldValue text(String s) {
        return new FieldValue.Text(s);
    }

    private String pick(String[] options) {
        return options[random.nextInt(options.length)];
    }

    /** A UUIDv7-shaped id: 48 bits of milliseconds, then random bits, as devices generate them. */
    private String uuid7() {
        long ms = wall.get();
        long msb = (ms << 16) | 0x7000L | (random.nextInt(0x1000));
        long lsb = (random.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
        return new UUID(msb, lsb).toString();
    }
}
