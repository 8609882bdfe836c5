package dev.outpost.model.merge;

import dev.outpost.model.change.Change;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Applies a list of changes to the rows they touch, the same way on the service (a pushed batch) and on a device (a
 * pulled page): each row is read once through the caller's {@link Rows}, the changes are joined in the order given,
 * and the result says which rows changed, which changes had an effect, and which conflicts each row opened and
 * closed. Reading and writing the stored form stays with the caller. Pure.
 *
 * <p>A change whose row is stored in another scope is not applied: a row never changes scope. It is listed in
 * {@link Result#mismatches}, for the service to refuse the batch with.
 */
public final class ChangeApplication {
    private ChangeApplication() {}

    /** A row's current state, or empty when none is stored. */
    @FunctionalInterface
    public interface Rows {
        Optional<RowState> get(String table, String id);
    }

    /** The change at {@code index} names scope {@code given}, but its row {@code key} is in {@code rowScope}. */
    public record ScopeMismatch(int index, String key, String rowScope, String given) {}

    /**
     * One row the changes touched: {@code before} is the empty state for a row not stored until now.
     *
     * @param stored whether the row was stored before (its state may still be empty)
     */
    public record Touched(RowState before, RowState after, boolean stored) {
        public boolean changed() {
            return !after.equals(before);
        }

        /**
         * What the changes did to the row's conflicts: {@code opened} are those it has now and did not have before
         * (created or widened), {@code closed} those it had of which no conflict of the same kind and field is left,
         * {@code open} how many it has now.
         */
        public Conflicts conflicts(Table table) {
            List<Conflict> was = RowConflicts.of(table, before);
            List<Conflict> now = RowConflicts.of(table, after);
            List<Conflict> opened = new ArrayList<>();
            for (Conflict c : now) {
                if (!was.contains(c)) {
                    opened.add(c);
                }
            }
            List<Conflict> closed = new ArrayList<>();
            for (Conflict c : was) {
                if (now.stream().noneMatch(a -> a.kind() == c.kind() && Objects.equals(a.field(), c.field()))) {
                    closed.add(c);
                }
            }
            return new Conflicts(opened, closed, now.size());
        }
    }

    public record Conflicts(List<Conflict> opened, List<Conflict> closed, int open) {}

    /**
     * @param rows every row touched, keyed {@code table/id}, in the order first touched
     * @param effective the changes that changed their row, in the order given
     */
    public record Result(Map<String, Touched> rows, List<Change> effective, List<ScopeMismatch> mismatches) {}

    public static String key(String table, String id) {
        return table + "/" + id;
    }

    public static Result apply(Schema schema, List<Change> changes, Rows stored) {
        Map<String, RowState> before = new HashMap<>();
        Map<String, Boolean> wasStored = new HashMap<>();
        Map<String, RowState> after = new LinkedHashMap<>();
        List<Change> effective = new ArrayList<>();
        List<ScopeMismatch> mismatches = new ArrayList<>();
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            String key = key(c.table(), c.rowId());
            RowState current = after.get(key);
            if (current == null) {
                Optional<RowState> read = stored.get(c.table(), c.rowId());
                current = read.orElseGet(() -> RowState.empty(c.table(), c.rowId(), c.scope()));
                before.put(key, current);
                wasStored.put(key, read.isPresent());
            }
            if (!current.scope().equals(c.scope())) {
                mismatches.add(new ScopeMismatch(i, key, current.scope(), c.scope()));
                after.putIfAbsent(key, current);
                continue;
            }
            Table table = schema.table(c.table());
            // Joined directly: conflicts are compared once per row (Touched), not after every change.
            RowState merged = RowMerge.join(table, current, RowMerge.delta(table, c));
            after.put(key, merged);
            if (!merged.equals(current)) {
                effective.add(c);
            }
        }
        Map<String, Touched> rows = new LinkedHashMap<>();
        after.forEach((key, row) -> rows.put(key, new Touched(before.get(key), row, wasStored.get(key))));
        return new Result(rows, effective, mismatches);
    }
}
