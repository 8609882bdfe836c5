package dev.outpost.device.rows;

import dev.outpost.model.change.FieldValue;
import java.util.List;

/**
 * A row as apps see it: id, scope, and every field of its table in schema order (counters as their total, sets as
 * sorted lists, review fields as the provisional winner; {@code null} for a field never written).
 */
public record RowRecord(String table, String id, String scope, List<Field> fields) {
    public record Field(String name, FieldValue value) {}
}
