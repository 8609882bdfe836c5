package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.Schema;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The compact form of a list of changes (docs/protocol.md, "Binary encoding"). Strings that repeat (tables, fields,
 * devices, scopes) go once into dictionaries; each row (table, scope, id) goes once into the row dictionary;
 * consecutive changes to one row with one clock (one local write) form a group that carries the row and clock once;
 * clocks are deltas from the previous group; canonical UUIDs travel as 16 bytes; a reference to a row in the row
 * dictionary travels as its index. Order is kept exactly.
 *
 * <pre>
 * section = [tables[], fields[], devices[], scopes[], rows[], group...]   rows: (table, scope, id)*, id text or uuid
 * group   = [row, device, msDelta, logical, (field, opcode, operand...)...]
 * ref     = text | 16-byte uuid | index into rows (of the referenced table, same scope)
 * clock   = device, msDelta-from-group, logical                                 (3 items, inline)
 * opcode  0 assign value | 1 assign value n clock*n | 2 counter total | 3 add element
 *         4 remove element n clock*n | 5 delete n (field m clock*m)*n | 6 restore clock   (row ops: field = -1)
 * </pre>
 */
final class BinaryChanges {
    private static final int ASSIGN = 0;
    private static final int ASSIGN_REPLACING = 1;
    private static final int COUNTER = 2;
    private static final int SET_ADD = 3;
    private static final int SET_REMOVE = 4;
    private static final int DELETE = 5;
    private static final int RESTORE = 6;
    private static final int NO_FIELD = -1;
    private static final int CLOCK_ITEMS = 3;

    private BinaryChanges() {}

    private static final class Dictionary {
        final Map<String, Integer> index = new LinkedHashMap<>();

        int of(String s) {
            return index.computeIfAbsent(s, k -> index.size());
        }

        void write(JsonGenerator g) throws IOException {
            g.writeStartArray(null, index.size());
            for (String s : index.keySet()) {
                g.writeString(s);
            }
            g.writeEndArray();
        }
    }

    private static String rowKey(String table, String scope, String id) {
        return table + '\u0000' + scope + '\u0000' + id;
    }

    static void write(JsonGenerator g, List<Change> changes, Schema schema) throws IOException {
        Dictionary tables = new Dictionary(), fields = new Dictionary(), devices = new Dictionary();
        Dictionary scopes = new Dictionary(), rows = new Dictionary();
        List<Change> rowHeads = new ArrayList<>();
        List<int[]> groups = new ArrayList<>(); // [from, to) change index ranges
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            tables.of(c.table());
            scopes.of(c.scope());
            int before = rows.index.size();
            rows.of(rowKey(c.table(), c.scope(), c.rowId()));
            if (rows.index.size() > before) {
                rowHeads.add(c);
            }
            devices.of(c.deviceId());
            if (c.field() != null) {
                fields.of(c.field());
            }
            for (Hlc h : clocksIn(c.op())) {
                devices.of(h.deviceId());
            }
            if (c.op() instanceof Op.Delete d) {
                d.seen().keySet().forEach(fields::of);
            }
            if (!groups.isEmpty() && sameGroup(changes.get(groups.getLast()[0]), c)) {
                groups.getLast()[1] = i + 1;
            } else {
                groups.add(new int[] {i, i + 1});
            }
        }
        g.writeStartArray(null, 5 + groups.size());
        tables.write(g);
        fields.write(g);
        devices.write(g);
        scopes.write(g);
        g.writeStartArray(null, 3 * rowHeads.size());
        for (Change head : rowHeads) {
            g.writeNumber(tables.of(head.table()));
            g.writeNumber(scopes.of(head.scope()));
            writeId(g, head.rowId());
        }
        g.writeEndArray();
        long previousMs = 0;
        for (int[] range : groups) {
            Change head = changes.get(range[0]);
            int items = 4;
            for (int i = range[0]; i < range[1]; i++) {
                items += 2 + operandItems(changes.get(i).op());
            }
            g.writeStartArray(null, items);
            g.writeNumber(rows.of(rowKey(head.table(), head.scope(), head.rowId())));
            g.writeNumber(devices.of(head.deviceId()));
            long groupMs = head.clock().physicalMs();
            g.writeNumber(groupMs - previousMs);
            g.writeNumber(head.clock().logical());
            previousMs = groupMs;
            for (int i = range[0]; i < range[1]; i++) {
                Change c = changes.get(i);
                g.writeNumber(c.field() == null ? NO_FIELD : fields.of(c.field()));
                writeOp(g, c, schema, groupMs, devices, fields, rows);
            }
            g.writeEndArray();
        }
        g.writeEndArray();
    }

    private static boolean sameGroup(Change a, Change b) {
        return a.clock().equals(b.clock())
                && a.table().equals(b.table())
                && a.rowId().equals(b.rowId())
                && a.scope().equals(b.scope());
    }

    private static List<Hlc> clocksIn(Op op) {
        return switch (op) {
            case Op.Assign a -> a.replaces();
            case Op.SetRemove rm -> rm.observed();
            case Op.Delete d ->
                d.seen().values().stream().flatMap(java.util.Collection::stream).toList();
            case Op.Restore r -> List.of(r.tombstone());
            case Op.CounterTotal t -> List.of();
            case Op.SetAdd add -> List.of();
        };
    }

    private static int operandItems(Op op) {
        return switch (op) {
            case Op.Assign a ->
                a.replaces().isEmpty() ? 1 : 2 + CLOCK_ITEMS * a.replaces().size();
            case Op.CounterTotal t -> 1;
            case Op.SetAdd add -> 1;
            case Op.SetRemove rm -> 2 + CLOCK_ITEMS * rm.observed().size();
            case Op.Delete d -> {
                int items = 1;
                for (var tags : d.seen().values()) {
                    items += 2 + CLOCK_ITEMS * tags.size();
                }
                yield items;
            }
            case Op.Restore r -> CLOCK_ITEMS;
        };
    }

    private static void writeOp(
            JsonGenerator g,
            Change c,
            Schema schema,
            long groupMs,
            Dictionary devices,
            Dictionary fields,
            Dictionary rows)
            throws IOException {
        switch (c.op()) {
            case Op.Assign a -> {
                g.writeNumber(a.replaces().isEmpty() ? ASSIGN : ASSIGN_REPLACING);
                Column column = schema.column(c.table(), c.field());
                if (column.type() == ColumnType.REF && a.value() instanceof FieldValue.Text ref) {
                    Integer index = rows.index.get(rowKey(column.refTable(), c.scope(), ref.value()));
                    if (index != null) {
                        g.writeNumber(index);
                    } else {
                        writeId(g, ref.value());
                    }
                } else {
                    ValueCodec.writeBinary(g, a.value());
                }
                if (!a.replaces().isEmpty()) {
                    writeClocks(g, a.replaces(), groupMs, devices);
                }
            }
            case Op.CounterTotal t -> {
                g.writeNumber(COUNTER);
                g.writeNumber(t.total());
            }
            case Op.SetAdd add -> {
                g.writeNumber(SET_ADD);
                g.writeString(add.element());
            }
            case Op.SetRemove rm -> {
                g.writeNumber(SET_REMOVE);
                g.writeString(rm.element());
                writeClocks(g, rm.observed(), groupMs, devices);
            }
            case Op.Delete d -> {
                g.writeNumber(DELETE);
                g.writeNumber(d.seen().size());
                for (var e : d.seen().entrySet()) {
                    g.writeNumber(fields.of(e.getKey()));
                    writeClocks(g, List.copyOf(e.getValue()), groupMs, devices);
                }
            }
            case Op.Restore r -> {
                g.writeNumber(RESTORE);
                writeClock(g, r.tombstone(), groupMs, devices);
            }
        }
    }

    private static void writeClocks(JsonGenerator g, List<Hlc> clocks, long groupMs, Dictionary devices)
            throws IOException {
        g.writeNumber(clocks.size());
        for (Hlc h : clocks) {
            writeClock(g, h, groupMs, devices);
        }
    }

    private static void writeClock(JsonGenerator g, Hlc h, long groupMs, Dictionary devices) throws IOException {
        g.writeNumber(devices.of(h.deviceId()));
        g.writeNumber(h.physicalMs() - groupMs);
        g.writeNumber(h.logical());
    }

    /** Reads the section whose START_ARRAY is the current token. */
    static List<Change> read(TokenReader in, Schema schema, WireLimits limits) throws IOException {
        if (in.p.currentToken() != JsonToken.START_ARRAY) {
            throw TokenReader.malformed("changes must be an array");
        }
        List<String> tables = readStrings(in, "tables");
        List<String> fields = readStrings(in, "fields");
        List<String> devices = readStrings(in, "devices");
        List<String> scopes = readStrings(in, "scopes");
        in.expect(JsonToken.START_ARRAY);
        List<String[]> rows = new ArrayList<>(); // {table, scope, id}
        JsonToken t;
        while ((t = in.next()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw TokenReader.malformed("row dictionary entries start with a table index");
            }
            String table = pick(tables, in.p.getIntValue(), "table");
            String scope = pick(scopes, in.nextInt(), "scope");
            in.next();
            rows.add(new String[] {table, scope, readId(in)});
        }
        List<Change> out = new ArrayList<>();
        long previousMs = 0;
        while ((t = in.next()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_ARRAY) {
                throw TokenReader.malformed("each change group must be an array");
            }
            String[] rowEntry = pickRow(rows, in.nextInt());
            String table = rowEntry[0];
            String scope = rowEntry[1];
            String row = rowEntry[2];
            String device = pick(devices, in.nextInt(), "device");
            long groupMs = Math.addExact(previousMs, in.nextLong());
            previousMs = groupMs;
            Hlc clock = new Hlc(groupMs, in.nextInt(), device);
            while ((t = in.next()) != JsonToken.END_ARRAY) {
                if (t != JsonToken.VALUE_NUMBER_INT) {
                    throw TokenReader.malformed("expected a field index");
                }
                int fieldIndex = in.p.getIntValue();
                String field = fieldIndex == NO_FIELD ? null : pick(fields, fieldIndex, "field");
                if (out.size() == limits.changesMax()) {
                    throw new OutpostException(
                            ErrorCode.BATCH_TOO_LARGE, "more than " + limits.changesMax() + " changes in one message");
                }
                Op op = readOp(in, schema, rowEntry, field, groupMs, devices, fields, rows);
                boolean rowOp = op instanceof Op.Delete || op instanceof Op.Restore;
                if (rowOp != (field == null)) {
                    throw TokenReader.malformed(table + "/" + row + ": field index does not fit the operation");
                }
                out.add(new Change(table, row, scope, field, op, clock));
            }
        }
        return out;
    }

    private static Op readOp(
            TokenReader in,
            Schema schema,
            String[] rowEntry,
            String field,
            long groupMs,
            List<String> devices,
            List<String> fields,
            List<String[]> rows)
            throws IOException {
        String table = rowEntry[0];
        String row = rowEntry[2];
        String where = table + "/" + row + (field == null ? "" : "." + field);
        int code = in.nextInt();
        return switch (code) {
            case ASSIGN, ASSIGN_REPLACING -> {
                if (field == null) {
                    throw TokenReader.malformed(where + ": assign needs a field");
                }
                Column column = schema.column(table, field);
                JsonToken valueToken = in.next();
                FieldValue value;
                if (column.type() == ColumnType.REF && valueToken == JsonToken.VALUE_NUMBER_INT) {
                    String[] target = pickRow(rows, in.p.getIntValue());
                    if (!target[0].equals(column.refTable()) || !target[1].equals(rowEntry[1])) {
                        throw TokenReader.malformed(where + ": reference index names a row of another table or scope");
                    }
                    value = new FieldValue.Text(target[2]);
                } else if (column.type() == ColumnType.REF && valueToken == JsonToken.VALUE_EMBEDDED_OBJECT) {
                    value = new FieldValue.Text(readId(in));
                } else {
                    value = ValueCodec.readBinary(in.p, column.type(), where);
                }
                yield new Op.Assign(value, code == ASSIGN ? List.of() : readClocks(in, groupMs, devices));
            }
            case COUNTER -> new Op.CounterTotal(in.nextLong());
            case SET_ADD -> new Op.SetAdd(in.nextText());
            case SET_REMOVE -> new Op.SetRemove(in.nextText(), readClocks(in, groupMs, devices));
            case DELETE -> {
                int n = count(in);
                TreeMap<String, List<Hlc>> seen = new TreeMap<>();
                for (int i = 0; i < n; i++) {
                    seen.put(pick(fields, in.nextInt(), "field"), readClocks(in, groupMs, devices));
                }
                yield Op.Delete.of(seen);
            }
            case RESTORE -> new Op.Restore(readClock(in, groupMs, devices));
            default -> throw TokenReader.malformed(where + ": unknown opcode " + code);
        };
    }

    private static List<Hlc> readClocks(TokenReader in, long groupMs, List<String> devices) throws IOException {
        int n = count(in);
        List<Hlc> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(readClock(in, groupMs, devices));
        }
        return out;
    }

    private static int count(TokenReader in) throws IOException {
        int n = in.nextInt();
        if (n < 0 || n > 65_536) {
            throw TokenReader.malformed("list length out of range: " + n);
        }
        return n;
    }

    private static Hlc readClock(TokenReader in, long groupMs, List<String> devices) throws IOException {
        String device = pick(devices, in.nextInt(), "device");
        long ms = Math.addExact(groupMs, in.nextLong());
        return new Hlc(ms, in.nextInt(), device);
    }

    private static List<String> readStrings(TokenReader in, String what) throws IOException {
        in.expect(JsonToken.START_ARRAY);
        List<String> out = new ArrayList<>();
        JsonToken t;
        while ((t = in.next()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_STRING) {
                throw TokenReader.malformed(what + " dictionary holds only strings");
            }
            out.add(in.p.getText());
        }
        return out;
    }

    private static String[] pickRow(List<String[]> rows, int index) {
        if (index < 0 || index >= rows.size()) {
            throw TokenReader.malformed("row index " + index + " outside its dictionary");
        }
        return rows.get(index);
    }

    private static void writeId(JsonGenerator g, String id) throws IOException {
        byte[] uuid = uuidBytes(id);
        if (uuid != null) {
            g.writeBinary(uuid);
        } else {
            g.writeString(id);
        }
    }

    /** An id whose token is current: text, or a 16-byte UUID. */
    private static String readId(TokenReader in) throws IOException {
        JsonToken t = in.p.currentToken();
        if (t == JsonToken.VALUE_EMBEDDED_OBJECT) {
            return uuidText(in.p.getBinaryValue());
        }
        if (t == JsonToken.VALUE_STRING) {
            return in.p.getText();
        }
        throw TokenReader.malformed("ids are strings or 16-byte UUIDs");
    }

    private static String pick(List<String> dictionary, int index, String what) {
        if (index < 0 || index >= dictionary.size()) {
            throw TokenReader.malformed(what + " index " + index + " outside its dictionary");
        }
        return dictionary.get(index);
    }

    /** 16 bytes if {@code id} is a UUID in canonical lower-case form (so decoding gives the same text back). */
    private static byte[] uuidBytes(String id) {
        if (id.length() != 36 || id.charAt(8) != '-') {
            return null;
        }
        try {
            UUID u = UUID.fromString(id);
            if (!u.toString().equals(id)) {
                return null;
            }
            return ByteBuffer.allocate(16)
                    .putLong(u.getMostSignificantBits())
                    .putLong(u.getLeastSignificantBits())
                    .array();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String uuidText(byte[] b) {
        if (b.length != 16) {
            throw TokenReader.malformed("binary row ids are 16-byte UUIDs");
        }
        ByteBuffer buf = ByteBuffer.wrap(b);
        return new UUID(buf.getLong(), buf.getLong()).toString();
    }
}
