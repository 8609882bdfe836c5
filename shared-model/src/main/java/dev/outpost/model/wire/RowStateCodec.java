package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.Tombstone;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The stored form of a {@link RowState} (PostgreSQL on the server, SQLite on the device): compact JSON, readable in
 * a database console. The field state variant follows the column's merge policy, so it carries no type tag.
 *
 * <pre>
 * {"fields": {"name":   {"v": "Amina", "c": "ms:n:dev"},                          lww, max, min
 *             "bags":   {"by": {"dev": [12, "ms:n:dev"]}},                          counter
 *             "pests":  {"adds": {"aphids": ["clock"]}, "removed": {...}, "c": "clock"},  set
 *             "yield":  {"live": [["clock", 1200.5]], "superseded": ["clock"], "c": "clock"}},  review
 *  "tombstone": {"c": "clock", "seen": {"name": ["clock"]}}, "restored": "clock"}
 * </pre>
 */
public final class RowStateCodec {
    private static final JsonFactory JSON = new JsonFactory();

    private final Schema schema;

    public RowStateCodec(Schema schema) {
        this.schema = schema;
    }

    public String encode(RowState row) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(256);
            try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
                g.writeStartObject();
                g.writeObjectFieldStart("fields");
                for (var e : row.fields().entrySet()) {
                    g.writeObjectFieldStart(e.getKey());
                    writeField(g, e.getValue());
                    g.writeEndObject();
                }
                g.writeEndObject();
                if (row.tombstone() != null) {
                    g.writeObjectFieldStart("tombstone");
                    g.writeStringField("c", row.tombstone().clock().toString());
                    g.writeObjectFieldStart("seen");
                    for (var e : row.tombstone().seen().entrySet()) {
                        writeClocks(g, e.getKey(), e.getValue());
                    }
                    g.writeEndObject();
                    g.writeEndObject();
                }
                if (row.restored() != null) {
                    g.writeStringField("restored", row.restored().toString());
                }
                g.writeEndObject();
            }
            return out.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("encoding to memory failed", e);
        }
    }

    private static void writeField(JsonGenerator g, FieldState state) throws IOException {
        switch (state) {
            case FieldState.Register r -> {
                g.writeFieldName("v");
                ValueCodec.writeJson(g, r.value());
                g.writeStringField("c", r.clock().toString());
            }
            case FieldState.Counter c -> {
                g.writeObjectFieldStart("by");
                for (var e : c.byDevice().entrySet()) {
                    g.writeArrayFieldStart(e.getKey());
                    g.writeNumber(e.getValue().total());
                    g.writeString(e.getValue().clock().toString());
                    g.writeEndArray();
                }
                g.writeEndObject();
            }
            case FieldState.OrSet s -> {
                g.writeObjectFieldStart("adds");
                for (var e : s.adds().entrySet()) {
                    writeClocks(g, e.getKey(), e.getValue());
                }
                g.writeEndObject();
                g.writeObjectFieldStart("removed");
                for (var e : s.removed().entrySet()) {
                    writeClocks(g, e.getKey(), e.getValue());
                }
                g.writeEndObject();
                g.writeStringField("c", s.clock().toString());
            }
            case FieldState.MultiValue m -> {
                g.writeArrayFieldStart("live");
                for (var e : m.live().entrySet()) {
                    g.writeStartArray();
                    g.writeString(e.getKey().toString());
                    ValueCodec.writeJson(g, e.getValue());
                    g.writeEndArray();
                }
                g.writeEndArray();
                writeClocks(g, "superseded", m.superseded());
                g.writeStringField("c", m.clock().toString());
            }
        }
    }

    private static void writeClocks(JsonGenerator g, String name, Iterable<Hlc> clocks) throws IOException {
        g.writeArrayFieldStart(name);
        for (Hlc h : clocks) {
            g.writeString(h.toString());
        }
        g.writeEndArray();
    }

    public RowState decode(String table, String id, String scope, String stored) {
        Table t = schema.table(table);
        try (JsonParser p = JSON.createParser(stored)) {
            TokenReader in = new TokenReader(p);
            in.expect(JsonToken.START_OBJECT);
            TreeMap<String, FieldState> fields = new TreeMap<>();
            Tombstone tombstone = null;
            Hlc restored = null;
            while (in.next() != JsonToken.END_OBJECT) {
                String key = p.currentName();
                in.next();
                switch (key) {
                    case "fields" -> {
                        while (in.next() != JsonToken.END_OBJECT) {
                            String field = p.currentName();
                            in.expect(JsonToken.START_OBJECT);
                            Column column = schema.column(table, field);
                            fields.put(field, readField(in, column, table + "/" + id + "." + field));
                        }
                    }
                    case "tombstone" -> tombstone = readTombstone(in);
                    case "restored" -> restored = Hlc.parse(p.getText());
                    default -> throw TokenReader.malformed("unknown stored row key '" + key + "'");
                }
            }
            return new RowState(t.name(), id, scope, fields, tombstone, restored);
        } catch (IOException e) {
            throw TokenReader.malformed("stored row " + table + "/" + id + " is not valid JSON");
        }
    }

    private static FieldState readField(TokenReader in, Column column, String where) throws IOException {
        JsonParser p = in.p;
        FieldValue value = null;
        Hlc clock = null;
        TreeMap<String, FieldState.Contribution> by = new TreeMap<>();
        TreeMap<String, SortedSet<Hlc>> adds = new TreeMap<>();
        TreeMap<String, SortedSet<Hlc>> removed = new TreeMap<>();
        TreeMap<Hlc, FieldValue> live = new TreeMap<>();
        SortedSet<Hlc> superseded = new TreeSet<>();
        while (in.next() != JsonToken.END_OBJECT) {
            String key = p.currentName();
            in.next();
            switch (key) {
                case "v" -> value = ValueCodec.readJson(p, column.type(), where);
                case "c" -> clock = Hlc.parse(p.getText());
                case "by" -> {
                    while (in.next() != JsonToken.END_OBJECT) {
                        String device = p.currentName();
                        in.expect(JsonToken.START_ARRAY);
                        long total = in.nextLong();
                        Hlc c = Hlc.parse(in.nextText());
                        in.expect(JsonToken.END_ARRAY);
                        by.put(device, new FieldState.Contribution(total, c));
                    }
                }
                case "adds" -> readTagMap(in, adds);
                case "removed" -> readTagMap(in, removed);
                case "live" -> {
                    while (in.next() != JsonToken.END_ARRAY) {
                        Hlc c = Hlc.parse(in.nextText());
                        in.next();
                        live.put(c, ValueCodec.readJson(p, column.type(), where));
                        in.expect(JsonToken.END_ARRAY);
                    }
                }
                case "superseded" -> superseded.addAll(readClockArray(in));
                default -> throw TokenReader.malformed(where + ": unknown stored field key '" + key + "'");
            }
        }
        return switch (column.merge()) {
            case COUNTER -> new FieldState.Counter(by);
            case SET -> new FieldState.OrSet(adds, removed, clock);
            case REVIEW -> new FieldState.MultiValue(live, superseded, clock);
            default -> new FieldState.Register(value, clock);
        };
    }

    private static Tombstone readTombstone(TokenReader in) throws IOException {
        Hlc clock = null;
        TreeMap<String, SortedSet<Hlc>> seen = new TreeMap<>();
        while (in.next() != JsonToken.END_OBJECT) {
            String key = in.p.currentName();
            in.next();
            if (key.equals("c")) {
                clock = Hlc.parse(in.p.getText());
            } else if (key.equals("seen")) {
                readTagMap(in, seen);
            } else {
                throw TokenReader.malformed("unknown tombstone key '" + key + "'");
            }
        }
        return new Tombstone(clock, seen);
    }

    private static void readTagMap(TokenReader in, TreeMap<String, SortedSet<Hlc>> into) throws IOException {
        while (in.next() != JsonToken.END_OBJECT) {
            String k = in.p.currentName();
            in.next();
            into.put(k, new TreeSet<>(readClockArray(in)));
        }
    }

    private static java.util.List<Hlc> readClockArray(TokenReader in) throws IOException {
        java.util.List<Hlc> out = new java.util.ArrayList<>();
        while (in.next() != JsonToken.END_ARRAY) {
            out.add(Hlc.parse(in.p.getText()));
        }
        return out;
    }
}
