package dev.outpost.model.merge;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/** One simulated replica for merge tests: a clock, its rows, and every change it knows (its own and received). */
final class Replica {
    static final String SCOPE = "nakuru";

    final String deviceId;
    final Schema schema;
    final HybridClock clock;
    final Map<String, RowState> rows = new TreeMap<>();
    final Set<Change> known = new LinkedHashSet<>();
    final List<Change> made = new ArrayList<>();
    final List<Conflict> opened = new ArrayList<>();

    Replica(String deviceId, Schema schema, LongSupplier wallMs) {
        this.deviceId = deviceId;
        this.schema = schema;
        this.clock = new HybridClock(deviceId, wallMs, null);
    }

    RowState row(String table, String id) {
        return rows.getOrDefault(table + "/" + id, RowState.empty(table, id, SCOPE));
    }

    Change put(String table, String id, String field, FieldValue value) {
        return local(LocalWrites.assign(row(table, id), field, value, clock.now()));
    }

    Change add(String table, String id, String field, long delta) {
        return local(LocalWrites.increment(row(table, id), field, delta, clock.now()));
    }

    Change tag(String table, String id, String field, String element) {
        return local(LocalWrites.addElement(row(table, id), field, element, clock.now()));
    }

    Change untag(String table, String id, String field, String element) {
        return local(LocalWrites.removeElement(row(table, id), field, element, clock.now()));
    }

    Change delete(String table, String id) {
        return local(LocalWrites.delete(row(table, id), clock.now()));
    }

    Change restore(String table, String id) {
        return local(LocalWrites.restore(row(table, id), clock.now()));
    }

    Change resolve(String table, String id, String field, FieldValue value) {
        return local(LocalWrites.resolve(row(table, id), field, value, clock.now()));
    }

    private Change local(Change c) {
        ChangeValidator.validate(schema, c);
        made.add(c);
        apply(c);
        return c;
    }

    /** Applies a change (own or received); returns whether the row changed. */
    boolean apply(Change c) {
        known.add(c);
        if (!c.deviceId().equals(deviceId)) {
            clock.receive(c.clock());
        }
        Table table = schema.table(c.table());
        String key = c.table() + "/" + c.rowId();
        RowMerge.Outcome o = RowMerge.apply(table, rows.get(key), c);
        rows.put(key, o.row());
        opened.addAll(o.opened());
        return o.changed();
    }

    void receiveAll(Replica from) {
        for (Change c : List.copyOf(from.known)) {
            apply(c);
        }
    }

    FieldValue view(String table, String id, String field) {
        FieldState f = row(table, id).field(field);
        return f == null ? FieldValue.NULL : RowView.valueOf(f);
    }

    boolean deleted(String table, String id) {
        return RowConflicts.isDeleted(schema.table(table), row(table, id));
    }

    List<Conflict> conflicts(String table, String id) {
        return RowConflicts.of(schema.table(table), row(table, id));
    }

    Hlc last() {
        return clock.last();
    }
}
