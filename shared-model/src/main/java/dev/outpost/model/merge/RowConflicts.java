package dev.outpost.model.merge;

import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.Conflict.Candidate;
import dev.outpost.model.merge.FieldState.MultiValue;
import dev.outpost.model.schema.DeletePolicy;
import dev.outpost.model.schema.Table;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/** Derives the open conflicts of a row from its state. */
public final class RowConflicts {
    private RowConflicts() {}

    /** The row's open conflicts: one per {@code review} field with competing values, one for a delete vs update. */
    public static List<Conflict> of(Table table, RowState row) {
        List<Conflict> out = new ArrayList<>();
        for (Map.Entry<String, FieldState> e : row.fields().entrySet()) {
            if (e.getValue() instanceof MultiValue mv && mv.live().size() > 1) {
                List<Candidate> candidates = new ArrayList<>();
                mv.live().reversed().forEach((clock, v) -> candidates.add(new Candidate(e.getKey(), v, clock, false)));
                out.add(new Conflict(row.table(), row.id(), e.getKey(), Conflict.Kind.CONCURRENT_WRITES, candidates));
            }
        }
        Tombstone t = row.activeTombstone();
        if (t != null) {
            List<Candidate> updates = missedUpdates(row, t);
            if (!updates.isEmpty()) {
                Candidate delete = new Candidate(null, null, t.clock(), true);
                List<Candidate> candidates = new ArrayList<>();
                if (table.onDeleteVsUpdate() == DeletePolicy.UPDATE_WINS) {
                    candidates.addAll(updates);
                    candidates.add(delete);
                } else {
                    candidates.add(delete);
                    candidates.addAll(updates);
                }
                out.add(new Conflict(row.table(), row.id(), null, Conflict.Kind.DELETE_VS_UPDATE, candidates));
            }
        }
        return out;
    }

    /** Whether reads see the row as deleted: a tombstone in force that the table's policy lets win. */
    public static boolean isDeleted(Table table, RowState row) {
        Tombstone t = row.activeTombstone();
        if (t == null) {
            return false;
        }
        return table.onDeleteVsUpdate() != DeletePolicy.UPDATE_WINS
                || missedUpdates(row, t).isEmpty();
    }

    private static List<Candidate> missedUpdates(RowState row, Tombstone t) {
        List<Candidate> out = new ArrayList<>();
        for (Map.Entry<String, FieldState> e : row.fields().entrySet()) {
            Hlc missed = t.missed(e.getKey(), e.getValue());
            if (missed != null) {
                out.add(new Candidate(e.getKey(), RowView.valueOf(e.getValue()), missed, false));
            }
        }
        out.sort(Comparator.comparing(Candidate::clock).reversed());
        return out;
    }
}
