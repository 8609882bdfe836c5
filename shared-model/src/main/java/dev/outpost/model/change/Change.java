package dev.outpost.model.change;

import dev.outpost.model.clock.Hlc;
import java.util.Objects;

/**
 * One field-level change: (table, row id, field, op, clock). The device that made it is {@code clock.deviceId()}.
 * {@code scope} is the row's scope value (e.g. the district), carried so that authorization and routing never need
 * the row itself. {@code field} is {@code null} exactly for row ops ({@link Op.Delete}, {@link Op.Restore}).
 */
public record Change(String table, String rowId, String scope, String field, Op op, Hlc clock) {
    public Change {
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(rowId, "rowId");
        Objects.requireNonNull(scope, "scope");
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(clock, "clock");
        boolean rowOp = op instanceof Op.Delete || op instanceof Op.Restore;
        if (rowOp != (field == null)) {
            throw new IllegalArgumentException("field is null exactly for row operations: " + op);
        }
    }

    public String deviceId() {
        return clock.deviceId();
    }

    public boolean isRowOp() {
        return field == null;
    }
}
