package dev.outpost.model.schema;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** One synced table: its columns in declaration order and its delete-versus-update policy. */
public record Table(String name, Map<String, Column> columns, DeletePolicy onDeleteVsUpdate) {
    public Table {
        columns = Collections.unmodifiableMap(new LinkedHashMap<>(columns));
    }

    public Optional<Column> getColumn(String field) {
        return Optional.ofNullable(columns.get(field));
    }
}
