package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.Schema;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The readable JSON form of a list of changes: one object per change with named keys, clocks as
 * {@code physicalMs:logical:deviceId}. See docs/protocol.md.
 */
final class JsonChanges {
    private static final JsonFactory JSON = new JsonFactory();

    private JsonChanges() {}

    static void write(JsonGenerator g, List<Change> changes) throws IOException {
        g.writeStartArray();
        for (Change c : changes) {
            g.writeStartObject();
            g.writeStringField("table", c.table());
            g.writeStringField("id", c.rowId());
            g.writeStringField("scope", c.scope());
            if (c.field() != null) {
                g.writeStringField("field", c.field());
            }
            g.writeStringField("clock", c.clock().toString());
            switch (c.op()) {
                case Op.Assign a -> {
                    g.writeStringField("op", "assign");
                    g.writeFieldName("value");
                    ValueCodec.writeJson(g, a.value());
                    if (!a.replaces().isEmpty()) {
                        writeClocks(g, "replaces", a.replaces());
                    }
                }
                case Op.CounterTotal t -> {
                    g.writeStringField("op", "counter");
                    g.writeNumberField("total", t.total());
                }
                case Op.SetAdd add -> {
                    g.writeStringField("op", "add");
                    g.writeStringField("element", add.element());
                }
                case Op.SetRemove rm -> {
                    g.writeStringField("op", "remove");
                    g.writeStringField("element", rm.element());
                    writeClocks(g, "observed", rm.observed());
                }
                case Op.Delete d -> {
                    g.writeStringField("op", "delete");
                    g.writeObjectFieldStart("seen");
                    for (var e : d.seen().entrySet()) {
                        writeClocks(g, e.getKey(), List.copyOf(e.getValue()));
                    }
                    g.writeEndObject();
                }
                case Op.Restore r -> {
                    g.writeStringField("op", "restore");
                    g.writeStringField("tombstone", r.tombstone().toString());
                }
            }
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /** Reads the array whose START_ARRAY is the current token. */
    static List<Change> read(TokenReader in, Schema schema, WireLimits limits) throws IOException {
        if (in.p.currentToken() != JsonToken.START_ARRAY) {
            throw TokenReader.malformed("changes must be an array");
        }
        List<Change> out = new ArrayList<>();
        JsonToken t;
        while ((t = in.next()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_OBJECT) {
                throw TokenReader.malformed("each change must be an object");
            }
            if (out.size() == limits.changesMax()) {
                throw new OutpostException(
                        ErrorCode.BATCH_TOO_LARGE, "more than " + limits.changesMax() + " changes in one message");
            }
            out.add(readChange(in, schema, out.size()));
        }
        return out;
    }

    private static Change readChange(TokenReader in, Schema schema, int index) throws IOException {
        String table = null, id = null, scope = null, field = null, op = null, element = null;
        Hlc clock = null, tombstone = null;
        String rawValue = null;
        Long total = null;
        List<Hlc> clocks = null;
        Map<String, List<Hlc>> seen = null;
        JsonToken t;
        while ((t = in.next()) != JsonToken.END_OBJECT) {
            String key = in.p.currentName();
            in.next();
            switch (key) {
                case "table" -> table = text(in, key);
                case "id" -> id = text(in, key);
                case "scope" -> scope = text(in, key);
                case "field" -> field = text(in, key);
                case "op" -> op = text(in, key);
                case "element" -> element = text(in, key);
                case "clock" -> clock = Hlc.parse(text(in, key));
                case "tombstone" -> tombstone = Hlc.parse(text(in, key));
                case "value" -> rawValue = ValueCodec.compactCopy(in.p);
                case "total" -> {
                    if (in.p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                        throw TokenReader.malformed("change " + index + ": total must be an integer");
                    }
                    total = in.p.getLongValue();
                }
                case "replaces", "observed" -> clocks = readClocks(in, key);
                case "seen" -> seen = readSeen(in);
                default -> throw TokenReader.malformed("change " + index + ": unknown key '" + key + "'");
            }
        }
        if (table == null || id == null || scope == null || clock == null || op == null) {
            throw TokenReader.malformed("change " + index + " needs table, id, scope, clock and op");
        }
        String where = table + "/" + id + (field == null ? "" : "." + field);
        Op parsed = switch (op) {
            case "assign" -> {
                if (rawValue == null) {
                    throw TokenReader.malformed(where + ": assign needs a value");
                }
                Column column = schema.column(table, need(field, where, "field"));
                yield new Op.Assign(parseValue(rawValue, column, where), clocks == null ? List.of() : clocks);
            }
            case "counter" -> new Op.CounterTotal(need(total, where, "total"));
            case "add" -> new Op.SetAdd(need(element, where, "element"));
            case "remove" -> new Op.SetRemove(need(element, where, "element"), clocks == null ? List.of() : clocks);
            case "delete" -> Op.Delete.of(seen == null ? Map.of() : seen);
            case "restore" -> new Op.Restore(need(tombstone, where, "tombstone"));
            default -> throw TokenReader.malformed(where + ": unknown op '" + op + "'");
        };
        boolean rowOp = parsed instanceof Op.Delete || parsed instanceof Op.Restore;
        if (rowOp && field != null) {
            throw TokenReader.malformed(where + ": " + op + " applies to a row and takes no field");
        }
        if (!rowOp) {
            schema.column(table, need(field, where, "field"));
        }
        return new Change(table, id, scope, field, parsed, clock);
    }

    private static FieldValue parseValue(String raw, Column column, String where) throws IOException {
        try (JsonParser p = JSON.createParser(raw)) {
            p.nextToken();
            return ValueCodec.readJson(p, column.type(), where);
        }
    }

    private static String text(TokenReader in, String key) {
        if (in.p.currentToken() != JsonToken.VALUE_STRING) {
            throw TokenReader.malformed("'" + key + "' must be a string");
        }
        try {
            return in.p.getText();
        } catch (IOException e) {
            throw TokenReader.malformed("'" + key + "' unreadable");
        }
    }

    private static List<Hlc> readClocks(TokenReader in, String key) throws IOException {
        if (in.p.currentToken() != JsonToken.START_ARRAY) {
            throw TokenReader.malformed("'" + key + "' must be an array of clocks");
        }
        List<Hlc> out = new ArrayList<>();
        while (in.next() != JsonToken.END_ARRAY) {
            out.add(Hlc.parse(text(in, key)));
        }
        return out;
    }

    private static Map<String, List<Hlc>> readSeen(TokenReader in) throws IOException {
        if (in.p.currentToken() != JsonToken.START_OBJECT) {
            throw TokenReader.malformed("'seen' must be an object of field clocks");
        }
        Map<String, List<Hlc>> out = new TreeMap<>();
        while (in.next() != JsonToken.END_OBJECT) {
            String f = in.p.currentName();
            in.next();
            out.put(f, readClocks(in, "seen." + f));
        }
        return out;
    }

    private static void writeClocks(JsonGenerator g, String name, List<Hlc> clocks) throws IOException {
        g.writeArrayFieldStart(name);
        for (Hlc h : clocks) {
            g.writeString(h.toString());
        }
        g.writeEndArray();
    }

    private static <T> T need(T v, String where, String what) {
        if (v == null) {
            throw TokenReader.malformed(where + ": missing '" + what + "'");
        }
        return v;
    }
}
