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
 * devices, scopes, row ids) go once into dictionaries; consecutive changes to one row with one clock (one local
 * write) form a group that carries the row and clock once; clocks are deltas from the previous group; canonical
 * UUID row ids travel as 16 bytes. Order is kept exactly.
 *
 * <pre>
 * section = [tables[], fields[], devices[], scopes[], rows[], group...]      rows: text or 16-byte UUID
 * group   = [table, row, scope, device, msDelta, logical, (field, opcode, operand...)...]
 * clock   = device, msDelta-from-group, logical                                 (3 items, inline)
 * opcode  0 assign value | 1 assign value n clock*n | 2 counter total | 3 add element
 *         4 remove element n clock*n | 5 delete n (field clock)*n | 6 restore clock   (row ops: field = -1)
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

    static void write(JsonGenerator g, List<Change> changes) throws IOException {
        Dictionary tables = new Dictionary(), fields = new Dictionary(), devices = new Dictionary();
        Dictionary scopes = new Dictionary(), rows = new Dictionary();
        List<int[]> groups = new ArrayList<>(); // [from, to) change index ranges
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            tables.of(c.table());
            rows.of(c.rowId());
            scopes.of(c.scope());
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
        g.writeStartArray(null, rows.index.size());
        for (String id : rows.index.keySet()) {
            byte[] uuid = uuidBytes(id);
            if (uuid != null) {
                g.writeBinary(uuid);
            } else {
                g.writeString(id);
            }
        }
        g.writeEndArray();
        long previousMs = 0;
        for (int[] range : groups) {
            Change head = changes.get(range[0]);
            int items = 6;
            for (int i = range[0]; i < range[1]; i++) {
                items += 2 + operandItems(changes.get(i).op());
            }
            g.writeStartArray(null, items);
            g.writeNumber(tables.of(head.table()));
            g.writeNumber(rows.of(head.rowId()));
            g.writeNumber(scopes.of(head.scope()));
            g.writeNumber(devices.of(head.deviceId()));
            long groupMs = head.clock().physicalMs();
            g.writeNumber(groupMs - previousMs);
            g.writeNumber(head.clock().logical());
            previousMs = groupMs;
            for (int i = range[0]; i < range[1]; i++) {
                Change c = changes.get(i);
                g.writeNumber(c.field() == null ? NO_FIELD : fields.of(c.field()));
                writeOp(g, c.op(), groupMs, devices, fields);
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
            case Op.Delete d -> List.copyOf(d.seen().values());
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
            case Op.Delete d -> 1 + (1 + CLOCK_ITEMS) * d.seen().size();
            case Op.Restore r -> CLOCK_ITEMS;
        };
    }

    private static void writeOp(JsonGenerator g, Op op, long groupMs, Dictionary devices, Dictionary fields)
            throws IOException {
        switch (op) {
            case Op.Assign a -> {
                g.writeNumber(a.replaces().isEmpty() ? ASSIGN : ASSIGN_REPLACING);
                ValueCodec.writeBinary(g, a.value());
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
                    writeClock(g, e.getValue(), groupMs, devices);
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
        List<String> rows = new ArrayList<>();
        JsonToken t;
        while ((t = in.next()) != JsonToken.END_ARRAY) {
            if (t == JsonToken.VALUE_EMBEDDED_OBJECT) {
                rows.add(uuidText(in.p.getBinaryValue()));
            } else if (t == JsonToken.VALUE_STRING) {
                rows.add(in.p.getText());
            } else {
                throw TokenReader.malformed("row ids are strings or 16-byte UUIDs");
            }
        }
        List<Change> out = new ArrayList<>();
        long previousMs = 0;
        while ((t = in.next()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_ARRAY) {
                throw TokenReader.malformed("each change group must be an array");
            }
            String table = pick(tables, in.nextInt(), "table");
            String row = pick(rows, in.nextInt(), "row");
            String scope = pick(scopes, in.nextInt(), "scope");
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
                Op op = readOp(in, schema, table, row, field, groupMs, devices, fields);
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
            String table,
            String row,
            String field,
            long groupMs,
            List<String> devices,
            List<String> fields)
            throws IOException {
        String where = table + "/" + row + (field == null ? "" : "." + field);
        int code = in.nextInt();
        return switch (code) {
            case ASSIGN, ASSIGN_REPLACING -> {
                if (field == null) {
                    throw TokenReader.malformed(where + ": assign needs a field");
                }
                Column column = schema.column(table, field);
                in.next();
                FieldValue value = ValueCodec.readBinary(in.p, column.type(), where);
                yield new Op.Assign(value, code == ASSIGN ? List.of() : readClocks(in, groupMs, devices));
            }
            case COUNTER -> new Op.CounterTotal(in.nextLong());
            case SET_ADD -> new Op.SetAdd(in.nextText());
            case SET_REMOVE -> new Op.SetRemove(in.nextText(), readClocks(in, groupMs, devices));
            case DELETE -> {
                int n = count(in);
                TreeMap<String, Hlc> seen = new TreeMap<>();
                for (int i = 0; i < n; i++) {
                    seen.put(pick(fields, in.nextInt(), "field"), readClock(in, groupMs, devices));
                }
                yield new Op.Delete(seen);
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
