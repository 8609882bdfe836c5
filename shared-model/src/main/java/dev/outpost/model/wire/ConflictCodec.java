package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.Schema;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Conflicts on the wire, in both formats, as objects: {@code {"table","id","field","kind","candidates":[{"field",
 * "value","clock","delete"}]}}. Candidate values are typed by their column; a delete candidate has no field and no
 * value; counter and set candidates show their visible value (a total, a JSON array).
 */
final class ConflictCodec {
    private ConflictCodec() {}

    static void write(JsonGenerator g, List<Conflict> conflicts, boolean binary, Schema schema) throws IOException {
        g.writeStartArray();
        for (Conflict c : conflicts) {
            g.writeStartObject();
            g.writeStringField("table", c.table());
            g.writeStringField("id", c.rowId());
            if (c.field() != null) {
                g.writeStringField("field", c.field());
            }
            g.writeStringField("kind", c.kind().key());
            g.writeArrayFieldStart("candidates");
            for (Conflict.Candidate k : c.candidates()) {
                g.writeStartObject();
                if (k.field() != null) {
                    g.writeStringField("field", k.field());
                    g.writeFieldName("value");
                    FieldValue v = k.value();
                    if (binary) {
                        ValueCodec.writeBinary(g, v);
                    } else {
                        ValueCodec.writeJson(g, v);
                    }
                }
                g.writeStringField("clock", k.clock().toString());
                if (k.delete()) {
                    g.writeBooleanField("delete", true);
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /** Reads the array whose START_ARRAY is current. */
    static List<Conflict> read(TokenReader in, boolean binary, Schema schema) throws IOException {
        if (in.p.currentToken() != JsonToken.START_ARRAY) {
            throw TokenReader.malformed("conflicts must be an array");
        }
        List<Conflict> out = new ArrayList<>();
        while (in.next() != JsonToken.END_ARRAY) {
            if (in.p.currentToken() != JsonToken.START_OBJECT) {
                throw TokenReader.malformed("each conflict must be an object");
            }
            String table = null, id = null, field = null, kind = null;
            List<Conflict.Candidate> candidates = new ArrayList<>();
            while (in.next() != JsonToken.END_OBJECT) {
                String key = in.p.currentName();
                in.next();
                switch (key) {
                    case "table" -> table = in.p.getText();
                    case "id" -> id = in.p.getText();
                    case "field" -> field = in.p.getText();
                    case "kind" -> kind = in.p.getText();
                    case "candidates" -> {
                        if (in.p.currentToken() != JsonToken.START_ARRAY) {
                            throw TokenReader.malformed("candidates must be an array");
                        }
                        while (in.next() != JsonToken.END_ARRAY) {
                            candidates.add(readCandidate(in, binary, schema, table));
                        }
                    }
                    default -> throw TokenReader.malformed("unknown conflict key '" + key + "'");
                }
            }
            if (table == null || id == null || kind == null) {
                throw TokenReader.malformed("a conflict needs table, id and kind");
            }
            out.add(new Conflict(table, id, field, kind(kind), candidates));
        }
        return out;
    }

    private static Conflict.Candidate readCandidate(TokenReader in, boolean binary, Schema schema, String table)
            throws IOException {
        if (in.p.currentToken() != JsonToken.START_OBJECT || table == null) {
            throw TokenReader.malformed("a candidate must be an object after the conflict's table");
        }
        String field = null;
        FieldValue value = null;
        Hlc clock = null;
        boolean delete = false;
        while (in.next() != JsonToken.END_OBJECT) {
            String key = in.p.currentName();
            in.next();
            switch (key) {
                case "field" -> field = in.p.getText();
                case "value" -> {
                    if (field == null) {
                        throw TokenReader.malformed("a candidate's field must come before its value");
                    }
                    Column column = schema.column(table, field);
                    // Counters and sets show their visible value: a total, or a JSON array of elements.
                    ColumnType type = switch (column.merge()) {
                        case COUNTER -> ColumnType.INT;
                        case SET -> ColumnType.JSON;
                        default -> column.type();
                    };
                    value = binary
                            ? ValueCodec.readBinary(in.p, type, table + "." + field)
                            : ValueCodec.readJson(in.p, type, table + "." + field);
                }
                case "clock" -> clock = Hlc.parse(in.p.getText());
                case "delete" -> delete = in.p.currentToken() == JsonToken.VALUE_TRUE;
                default -> throw TokenReader.malformed("unknown candidate key '" + key + "'");
            }
        }
        if (clock == null) {
            throw TokenReader.malformed("a candidate needs a clock");
        }
        return new Conflict.Candidate(field, value, clock, delete);
    }

    private static Conflict.Kind kind(String key) {
        for (Conflict.Kind k : Conflict.Kind.values()) {
            if (k.key().equals(key)) {
                return k;
            }
        }
        throw TokenReader.malformed("unknown conflict kind '" + key + "'");
    }
}
