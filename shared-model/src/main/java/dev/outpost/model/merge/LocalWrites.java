package dev.outpost.model.merge;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.FieldState.Counter;
import dev.outpost.model.merge.FieldState.MultiValue;
import dev.outpost.model.merge.FieldState.OrSet;
import java.util.List;

/**
 * Turns a user's edit into the change that records it, given what this replica holds for the row. This is where a
 * write learns what it replaces: the review value it saw, the set tags it observed, the field clocks a delete saw,
 * the device's running counter total. The device and the server (for resolutions) both write through it.
 */
public final class LocalWrites {
    private LocalWrites() {}

    /** A write of {@code value}; for a review field it replaces the value this replica shows. */
    public static Change assign(RowState row, String field, FieldValue value, Hlc clock) {
        List<Hlc> replaces = List.of();
        if (row.field(field) instanceof MultiValue mv && mv.winnerClock() != null) {
            replaces = List.of(mv.winnerClock());
        }
        return new Change(row.table(), row.id(), row.scope(), field, new Op.Assign(value, replaces), clock);
    }

    /**
     * A write that closes a conflict on a review field: it replaces every competing value, so all replicas end with
     * exactly {@code value}.
     */
    public static Change resolve(RowState row, String field, FieldValue value, Hlc clock) {
        List<Hlc> replaces = row.field(field) instanceof MultiValue mv
                ? List.copyOf(mv.live().keySet())
                : List.of();
        return new Change(row.table(), row.id(), row.scope(), field, new Op.Assign(value, replaces), clock);
    }

    /** Adds {@code delta} (which may be negative) to this device's contribution to a counter. */
    public static Change increment(RowState row, String field, long delta, Hlc clock) {
        long mine = row.field(field) instanceof Counter c ? c.contributionOf(clock.deviceId()) : 0;
        return new Change(
                row.table(), row.id(), row.scope(), field, new Op.CounterTotal(Math.addExact(mine, delta)), clock);
    }

    public static Change addElement(RowState row, String field, String element, Hlc clock) {
        return new Change(row.table(), row.id(), row.scope(), field, new Op.SetAdd(element), clock);
    }

    /** Removes the element as this replica sees it; adds it has not seen survive. */
    public static Change removeElement(RowState row, String field, String element, Hlc clock) {
        List<Hlc> observed = row.field(field) instanceof OrSet s ? List.copyOf(s.liveTags(element)) : List.of();
        return new Change(row.table(), row.id(), row.scope(), field, new Op.SetRemove(element, observed), clock);
    }

    /** Deletes the row, recording every write tag this replica holds for it. */
    public static Change delete(RowState row, Hlc clock) {
        return new Change(row.table(), row.id(), row.scope(), null, new Op.Delete(row.fieldTags()), clock);
    }

    /** Brings a deleted row back (undoes every delete this replica has seen). */
    public static Change restore(RowState row, Hlc clock) {
        Tombstone t = row.tombstone();
        if (t == null) {
            throw new IllegalStateException("row " + row.table() + "/" + row.id() + " was never deleted");
        }
        return new Change(row.table(), row.id(), row.scope(), null, new Op.Restore(t.clock()), clock);
    }
}
