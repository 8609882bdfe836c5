package dev.outpost.model.merge;

import dev.outpost.model.clock.Hlc;
import java.util.Collections;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;

/**
 * Everything one replica knows about one row: each field's replicated state, the joined deletes and the latest
 * restore. Immutable; {@link RowMerge} joins two states into a new one. The visible row (what {@code get} shows)
 * is derived from it by {@link RowView}.
 *
 * @param restored the clock of the latest delete a restore undid, or {@code null}
 */
public record RowState(
        String table,
        String id,
        String scope,
        SortedMap<String, FieldState> fields,
        Tombstone tombstone,
        Hlc restored) {

    public RowState {
        Objects.requireNonNull(table);
        Objects.requireNonNull(id);
        Objects.requireNonNull(scope);
        fields = Collections.unmodifiableSortedMap(new TreeMap<>(fields));
    }

    public static RowState empty(String table, String id, String scope) {
        return new RowState(table, id, scope, new TreeMap<>(), null, null);
    }

    public FieldState field(String name) {
        return fields.get(name);
    }

    /** The tombstone if it is in force: a delete newer than the latest restore. */
    public Tombstone activeTombstone() {
        if (tombstone == null || (restored != null && !tombstone.clock().isAfter(restored))) {
            return null;
        }
        return tombstone;
    }

    /** The latest clock that touched any field, the row's deletes or its restores. */
    public Hlc clock() {
        Hlc max = restored;
        if (tombstone != null) {
            max = Hlc.max(max, tombstone.clock());
        }
        for (FieldState f : fields.values()) {
            max = Hlc.max(max, f.clock());
        }
        return max;
    }

    /** For each field, the write tags it holds: what a delete issued now has seen. */
    public SortedMap<String, SortedSet<Hlc>> fieldTags() {
        TreeMap<String, SortedSet<Hlc>> out = new TreeMap<>();
        fields.forEach((name, f) -> out.put(name, f.tags()));
        return out;
    }
}
