package dev.outpost.model.schema;

import java.util.Objects;

/**
 * One synced column. {@code refTable} is set only for {@link ColumnType#REF}. {@code indexed}: apps look rows up by
 * it, so the typed tables index it (ref columns always are); it changes nothing in how values merge.
 */
public record Column(String name, ColumnType type, MergePolicy merge, String refTable, boolean indexed) {
    public Column {
        Objects.requireNonNull(name);
        Objects.requireNonNull(type);
        Objects.requireNonNull(merge);
        if ((type == ColumnType.REF) != (refTable != null)) {
            throw new IllegalArgumentException("refTable is set exactly for ref columns: " + name);
        }
    }

    public Column(String name, ColumnType type, MergePolicy merge, String refTable) {
        this(name, type, merge, refTable, false);
    }

    /** Whether values of this column merge the same as those of {@code other}: same name, type, policy and target. */
    public boolean mergesLike(Column other) {
        return name.equals(other.name)
                && type == other.type
                && merge == other.merge
                && Objects.equals(refTable, other.refTable);
    }
}
