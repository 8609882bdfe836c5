package dev.outpost.model.merge;

import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.FieldState.Counter;
import dev.outpost.model.merge.FieldState.MultiValue;
import dev.outpost.model.merge.FieldState.OrSet;
import dev.outpost.model.merge.FieldState.Register;
import dev.outpost.model.wire.JsonText;
import java.util.SortedSet;
import java.util.StringJoiner;

/** What reads show of a field: the register's value, the counter's total, the review winner, the set's elements. */
public final class RowView {
    private RowView() {}

    /**
     * The visible value as a {@link FieldValue}; a set shows as a {@link FieldValue.Json} array of its sorted
     * elements.
     */
    public static FieldValue valueOf(FieldState state) {
        return switch (state) {
            case Register r -> r.value();
            case Counter c -> new FieldValue.Int(c.total());
            case MultiValue m -> m.winner();
            case OrSet s -> jsonArray(s.elements());
        };
    }

    private static FieldValue.Json jsonArray(SortedSet<String> elements) {
        StringJoiner j = new StringJoiner(",", "[", "]");
        for (String e : elements) {
            j.add(JsonText.quote(e));
        }
        return new FieldValue.Json(j.toString());
    }
}
