package dev.outpost.model.schema;

import java.util.Objects;

/**
 * One synced column. {@code refTable} is set only for {@link ColumnType#REF}.
 */
public record Column(String name, ColumnType type, MergePolicy merge, String refTable) {
    public Column {
        Objects.requireNonNull(name);
        Objects.requireNonNull(type);
        Objects.requireNonNull(merge);
        if ((type == ColumnType.REF) != (refTable != null)) {
            throw new IllegalArgumentException("refTable is set exactly for ref columns: " + name);
        }
    }
}
