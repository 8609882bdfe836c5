package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
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
 * a database console, or the same structure in CBOR ({@link #encodeBinary}, the service's: no text escaping or
 * UTF-8 checks on a path every pushed row takes; values as in the binary wire form, clocks as
 * {@code [ms, n, device]} arrays instead of text to parse). The {@code byte[]} {@code decode} reads either form: JSON
 * starts with '{', CBOR with a map header. The field state variant follows the column's merge policy, so it carries
 * no type tag.
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
    private static final CBORFactory CBOR = new CBORFactory();

    private final Schema schema;

    public RowStateCodec(Schema schema) {
        this.schema = schema;
    }

    public String encode(RowState row) {
        return write(row, false).toString(StandardCharsets.UTF_8);
    }

    /** The CBOR form. */
    public byte[] encodeBinary(RowState row) {
        return write(row, true).toByteArray();
    }

    private static ByteArrayOutputStream write(RowState row, boolean binary) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(256);
            try (JsonGenerator g = binary ? CBOR.createGenerator(out) : JSON.createGenerator(out, JsonEncoding.UTF8)) {
                g.writeStartObject();
                g.writeObjectFieldStart("fields");
                for (var e : row.fields().entrySet()) {
                    g.writeObjectFieldStart(e.getKey());
                    writeField(g, e.getValue(), binary);
                    g.writeEndObject();
                }
                g.writeEndObject();
                if (row.tombstone() != null) {
                    g.writeObjectFieldStart("tombstone");
                    g.writeFieldName("c");
                    writeClock(g, row.tombstone().clock(), binary);
                    g.writeObjectFieldStart("seen");
                    for (var e : row.tombstone().seen().entrySet()) {
                        writeClocks(g, e.getKey(), e.getValue(), binary);
                    }
                    g.writeEndObject();
                    g.writeEndObject();
                }
                if (row.restored() != null) {
                    g.writeFieldName("restored");
                    writeClock(g, row.restored(), binary);
                }
                g.writeEndObject();
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("encoding to memory failed", e);
        }
    }

    private static void writeValue(JsonGenerator g, FieldValue v, boolean binary) throws IOException {
        if (binary) {
            ValueCodec.writeBinary(g, v);
        } else {
            ValueCodec.writeJson(g, v);
        }
    }

    private static void writeField(JsonGenerator g, FieldState state, boolean binary) throws IOException {
        switch (state) {
            case FieldState.Register r -> {
                g.writeFieldName("v");
                writeValue(g, r.value(), binary);
                g.writeFieldName("c");
                writeClock(g, r.clock(), binary);
            }
            case FieldState.Counter c -> {
                g.writeObjectFieldStart("by");
                for (var e : c.byDevice().entrySet()) {
                    g.writeArrayFieldStart(e.getKey());
                    g.writeNumber(e.getValue().total());
                    writeClock(g, e.getValue().clock(), binary);
                    g.writeEndArray();
                }
                g.writeEndObject();
            }
            case FieldState.OrSet s -> {
                g.writeObjectFieldStart("adds");
                for (var e : s.adds().entrySet()) {
                    writeClocks(g, e.getKey(), e.getValue(), binary);
                }
                g.writeEndObject();
                g.writeObjectFieldStart("removed");
                for (var e : s.removed().entrySet()) {
                    writeClocks(g, e.getKey(), e.getValue(), binary);
                }
                g.writeEndObject();
                g.writeFieldName("c");
                writeClock(g, s.clock(), binary);
            }
            case FieldState.MultiValue m -> {
                g.writeArrayFieldStart("live");
                for (var e : m.live().entrySet()) {
                    g.writeStartArray();
                    writeClock(g, e.getKey(), binary);
                    writeValue(g, e.getValue(), binary);
                    g.writeEndArray();
                }
                g.writeEndArray();
                writeClocks(g, "superseded", m.superseded(), binary);
                g.writeFieldName("c");
                writeClock(g, m.clock(), binary);
            }
        }
    }

    private static void writeClocks(JsonGenerator g, String name, Iterable<Hlc> clocks, boolean binary)
            throws IOException {
        g.writeArrayFieldStart(name);
        for (Hlc h : clocks) {
            writeClock(g, h, binary);
        }
        g.writeEndArray();
    }

    /** A clock: its text {@code ms:n:device} in JSON, the array {@code [ms, n, device]} in CBOR (nothing to parse). */
    private static void writeClock(JsonGenerator g, Hlc h, boolean binary) throws IOException {
        if (binary) {
            g.writeStartArray(null, 3);
            g.writeNumber(h.physicalMs());
            g.writeNumber(h.logical());
            g.writeString(h.deviceId());
            g.writeEndArray();
        } else {
            g.writeString(h.toString());
        }
    }

    /** The clock whose first token is the current one. */
    private static Hlc readClock(TokenReader in, boolean binary) throws IOException {
        if (!binary) {
            return Hlc.parse(in.p.getText());
        }
        if (in.p.currentToken() != JsonToken.START_ARRAY) {
            throw TokenReader.malformed("a stored clock is an array");
        }
        Hlc h = new Hlc(in.nextLong(), in.nextInt(), in.nextText());
        in.expect(JsonToken.END_ARRAY);
        return h;
    }

    public RowState decode(String table, String id, String scope, String stored) {
        try (JsonParser p = JSON.createParser(stored)) {
            return read(p, table, id, scope, false);
        } catch (IOException e) {
            throw TokenReader.malformed("stored row " + table + "/" + id + " is not valid JSON");
        }
    }

    /** Reads either stored form: JSON text in UTF-8 (it starts with '{') or CBOR. */
    public RowState decode(String table, String id, String scope, byte[] stored) {
        boolean binary = stored.length == 0 || stored[0] != '{';
        try (JsonParser p = binary ? CBOR.createParser(stored) : JSON.createParser(stored)) {
            return read(p, table, id, scope, binary);
        } catch (IOException e) {
            throw TokenReader.malformed(
                    "stored row " + table + "/" + id + " is not valid " + (binary ? "CBOR" : "JSON"));
        }
    }

    private RowState read(JsonParser p, String table, String id, String scope, boolean binary) throws IOException {
        Table t = schema.table(table);
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
                        fields.put(field, readField(in, column, table + "/" + id + "." + field, binary));
                    }
                }
                case "tombstone" -> tombstone = readTombstone(in, binary);
                case "restored" -> restored = readClock(in, binary);
                default -> throw TokenReader.malformed("unknown stored row key '" + key + "'");
            }
        }
        return new RowState(t.name(), id, scope, fields, tombstone, restored);
    }

    private static FieldValue readValue(JsonParser p, Column column, String where, boolean binary) throws IOException {
        return binary ? ValueCodec.readBinary(p, column.type(), where) : ValueCodec.readJson(p, column.type(), where);
    }

    private static FieldState readField(TokenReader in, Column column, String where, boolean binary)
            throws IOException {
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
                case "v" -> value = readValue(p, column, where, binary);
                case "c" -> clock = readClock(in, binary);
                case "by" -> {
                    while (in.next() != JsonToken.END_OBJECT) {
                        String device = p.currentName();
                        in.expect(JsonToken.START_ARRAY);
                        long total = in.nextLong();
                        in.next();
                        Hlc c = readClock(in, binary);
                        in.expect(JsonToken.END_ARRAY);
                        by.put(device, new FieldState.Contribution(total, c));
                    }
                }
                case "adds" -> readTagMap(in, adds, binary);
                case "removed" -> readTagMap(in, removed, binary);
                case "live" -> {
                    while (in.next() != JsonToken.END_ARRAY) {
                        in.next();
                        Hlc c = readClock(in, binary);
                        in.next();
                        live.put(c, readValue(p, column, where, binary));
                        in.expect(JsonToken.END_ARRAY);
                    }
                }
                case "superseded" -> superseded.addAll(readClockArray(in, binary));
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

    private static Tombstone readTombstone(TokenReader in, boolean binary) throws IOException {
        Hlc clock = null;
        TreeMap<String, SortedSet<Hlc>> seen = new TreeMap<>();
        while (in.next() != JsonToken.END_OBJECT) {
            String key = in.p.currentName();
            in.next();
            if (key.equals("c")) {
                clock = readClock(in, binary);
            } else if (key.equals("seen")) {
                readTagMap(in, seen, binary);
            } else {
                throw TokenReader.malformed("unknown tombstone key '" + key + "'");
            }
        }
        return new Tombstone(clock, seen);
    }

    private static void readTagMap(TokenReader in, TreeMap<String, SortedSet<Hlc>> into, boolean binary)
            throws IOException {
        while (in.next() != JsonToken.END_OBJECT) {
            String k = in.p.currentName();
            in.next();
            into.put(k, new TreeSet<>(readClockArray(in, binary)));
        }
    }

    private static java.util.List<Hlc> readClockArray(TokenReader in, boolean binary) throws IOException {
        java.util.List<Hlc> out = new java.util.ArrayList<>();
        while (in.next() != JsonToken.END_ARRAY) {
            out.add(readClock(in, binary));
        }
        return out;
    }
}
