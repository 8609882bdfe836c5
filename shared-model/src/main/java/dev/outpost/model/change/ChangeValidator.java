package dev.outpost.model.change;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Schema;

/**
 * Checks a change against the schema before it may be merged: known table and field, an op that fits the field's
 * merge policy, a value of the column's type, a well-formed row id and scope. Throws {@link OutpostException} with
 * the stable code of the first problem; the message names the table, row and field.
 */
public final class ChangeValidator {
    /** Row ids are at most this long. */
    public static final int ROW_ID_LENGTH_MAX = 64;

    public static final int SCOPE_LENGTH_MAX = 64;
    public static final int TEXT_LENGTH_MAX = 65_536;
    public static final int SET_ELEMENT_LENGTH_MAX = 256;

    private ChangeValidator() {}

    /**
     * Whether {@code s} is a row id: 1 to 64 characters of letters, digits and {@code - _ . :} (UUIDs, ULIDs, slugs).
     * (A loop, not a regular expression: it runs for every change the service ingests.)
     */
    public static boolean isRowId(String s) {
        int n = s.length();
        if (n == 0 || n > ROW_ID_LENGTH_MAX) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '_'
                    || c == '.'
                    || c == ':'
                    || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    public static void validate(Schema schema, Change change) {
        schema.table(change.table());
        if (!isRowId(change.rowId())) {
            throw new OutpostException(
                    ErrorCode.INVALID_ID,
                    "row id '" + abbreviate(change.rowId()) + "' in " + change.table()
                            + " is not 1-64 characters of letters, digits, '-', '_', '.', ':'");
        }
        if (change.scope().isEmpty() || change.scope().length() > SCOPE_LENGTH_MAX || hasNul(change.scope())) {
            throw new OutpostException(
                    ErrorCode.INVALID_ID,
                    where(change) + ": scope must be 1-" + SCOPE_LENGTH_MAX + " characters, none of them NUL");
        }
        if (change.isRowOp()) {
            if (change.op() instanceof Op.Delete d) {
                for (String f : d.seen().keySet()) {
                    schema.column(change.table(), f);
                }
            }
            return;
        }
        Column column = schema.column(change.table(), change.field());
        MergePolicy policy = column.merge();
        switch (change.op()) {
            case Op.Assign a -> {
                if (policy == MergePolicy.COUNTER || policy == MergePolicy.SET) {
                    throw notAllowed(
                            where(change),
                            "is a " + policy.key() + " field: use "
                                    + (policy == MergePolicy.COUNTER ? "a counter increment" : "set add/remove"));
                }
                if (!a.replaces().isEmpty() && policy != MergePolicy.REVIEW) {
                    throw notAllowed(where(change), "only review fields carry the clocks a write replaces");
                }
                checkValue(change, column.type(), a.value());
            }
            case Op.CounterTotal c -> {
                if (policy != MergePolicy.COUNTER) {
                    throw notAllowed(where(change), "is not a counter field");
                }
            }
            case Op.SetAdd add -> checkElement(change, policy, add.element());
            case Op.SetRemove rm -> checkElement(change, policy, rm.element());
            case Op.Delete d -> throw new IllegalStateException("row op with a field");
            case Op.Restore r -> throw new IllegalStateException("row op with a field");
        }
    }

    /** Whether {@code value} is of the variant that {@code type} stores; {@link FieldValue.Null} fits every type. */
    public static boolean fits(ColumnType type, FieldValue value) {
        return switch (value) {
            case FieldValue.Null n -> type != ColumnType.SET;
            case FieldValue.Text t -> type == ColumnType.TEXT || type == ColumnType.REF;
            case FieldValue.Int i -> type == ColumnType.INT;
            case FieldValue.Decimal d -> type == ColumnType.DECIMAL;
            case FieldValue.Bool b -> type == ColumnType.BOOL;
            case FieldValue.Date d -> type == ColumnType.DATE;
            case FieldValue.Timestamp t -> type == ColumnType.TIMESTAMP;
            case FieldValue.Json j -> type == ColumnType.JSON;
        };
    }

    /** Where a change points, for messages: {@code table/row.field}. Built only when there is something to say. */
    private static String where(Change change) {
        return change.table() + "/" + change.rowId() + (change.field() == null ? "" : "." + change.field());
    }

    private static void checkValue(Change change, ColumnType type, FieldValue value) {
        if (!fits(type, value)) {
            throw new OutpostException(
                    ErrorCode.TYPE_MISMATCH,
                    where(change) + ": expected a " + type.key() + " value, got " + describe(value));
        }
        if (value instanceof FieldValue.Text t && t.value().length() > TEXT_LENGTH_MAX) {
            throw new OutpostException(
                    ErrorCode.TYPE_MISMATCH, where(change) + ": text longer than " + TEXT_LENGTH_MAX + " characters");
        }
        // PostgreSQL's text and jsonb hold no NUL character: refused here, not by the database as a 500.
        if ((value instanceof FieldValue.Text t && hasNul(t.value()))
                || (value instanceof FieldValue.Json j
                        && (hasNul(j.canonicalText()) || j.canonicalText().contains("\\u0000")))) {
            throw new OutpostException(ErrorCode.TYPE_MISMATCH, where(change) + ": text holds a NUL character");
        }
        if (type == ColumnType.REF && value instanceof FieldValue.Text t && !isRowId(t.value())) {
            throw new OutpostException(
                    ErrorCode.TYPE_MISMATCH, where(change) + ": '" + abbreviate(t.value()) + "' is not a row id");
        }
    }

    /** Whether {@code s} holds a NUL character, which no text Outpost stores may hold. */
    public static boolean hasNul(String s) {
        return s.indexOf('\0') >= 0;
    }

    private static void checkElement(Change change, MergePolicy policy, String element) {
        if (policy != MergePolicy.SET) {
            throw notAllowed(where(change), "is not a set field");
        }
        if (hasNul(element)) {
            throw new OutpostException(ErrorCode.TYPE_MISMATCH, where(change) + ": set element holds a NUL character");
        }
        if (element.isEmpty() || element.length() > SET_ELEMENT_LENGTH_MAX) {
            throw new OutpostException(
                    ErrorCode.TYPE_MISMATCH,
                    where(change) + ": set elements are 1-" + SET_ELEMENT_LENGTH_MAX + " characters");
        }
    }

    private static OutpostException notAllowed(String where, String why) {
        return new OutpostException(ErrorCode.OPERATION_NOT_ALLOWED, where + " " + why);
    }

    static String describe(FieldValue v) {
        return switch (v) {
            case FieldValue.Null n -> "null";
            case FieldValue.Text t -> "text";
            case FieldValue.Int i -> "int";
            case FieldValue.Decimal d -> "decimal";
            case FieldValue.Bool b -> "bool";
            case FieldValue.Date d -> "date";
            case FieldValue.Timestamp t -> "timestamp";
            case FieldValue.Json j -> "json";
        };
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
