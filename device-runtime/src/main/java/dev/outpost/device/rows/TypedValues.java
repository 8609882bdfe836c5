package dev.outpost.device.rows;

import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.RowView;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Table;
import java.util.ArrayList;
import java.util.List;

/**
 * A row's values as its typed table stores them: text, dates, timestamps (ISO-8601), decimals (their exact text;
 * the column's numeric affinity lets SQL compare them as numbers), JSON and sets (JSON text) as text; integers,
 * counters (their total) and booleans (0/1) as integers; review fields as their provisional winner; a field never
 * written as null (an empty set as {@code []}, a counter as 0).
 */
final class TypedValues {
    private TypedValues() {}

    static List<Object> of(Table table, RowState row) {
        List<Object> out = new ArrayList<>(table.columns().size());
        for (Column c : table.columns().values()) {
            FieldState f = row.field(c.name());
            if (f == null) {
                out.add(c.merge() == MergePolicy.SET ? "[]" : c.merge() == MergePolicy.COUNTER ? (Object) 0L : null);
            } else {
                out.add(jdbc(RowView.valueOf(f)));
            }
        }
        return out;
    }

    /** if/else rather than a pattern switch, which has a class generated at run time on every start. */
    static Object jdbc(FieldValue v) {
        if (v instanceof FieldValue.Text t) {
            return t.value();
        } else if (v instanceof FieldValue.Int i) {
            return i.value();
        } else if (v instanceof FieldValue.Bool b) {
            return b.value() ? 1L : 0L;
        } else if (v instanceof FieldValue.Decimal d) {
            return d.value().toPlainString();
        } else if (v instanceof FieldValue.Date d) {
            return d.value().toString();
        } else if (v instanceof FieldValue.Timestamp t) {
            return t.value().toString();
        } else if (v instanceof FieldValue.Json j) {
            return j.canonicalText();
        }
        return null; // FieldValue.Null
    }
}
