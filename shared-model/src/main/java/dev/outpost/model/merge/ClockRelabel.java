package dev.outpost.model.merge;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.FieldState.Contribution;
import dev.outpost.model.merge.FieldState.Counter;
import dev.outpost.model.merge.FieldState.MultiValue;
import dev.outpost.model.merge.FieldState.OrSet;
import dev.outpost.model.merge.FieldState.Register;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * Replaces clocks in changes and row states through a mapping: how a device re-stamps changes its clock stamped too
 * far ahead. Merging only ever compares clocks, so when the mapping keeps the order of every clock a row holds
 * (including equal clocks staying equal), relabelling the merged state gives exactly the state that merging the
 * relabelled changes would give: {@code fold(merge, relabel(changes)) == relabel(fold(merge, changes))}. Nothing is
 * merged again, and no value changes.
 */
public final class ClockRelabel {
    private ClockRelabel() {}

    /** {@code change} with every clock it carries (its stamp and the clocks it replaces or observed) mapped. */
    public static Change change(Change change, UnaryOperator<Hlc> map) {
        Op op = switch (change.op()) {
            case Op.Assign a -> new Op.Assign(a.value(), list(a.replaces(), map));
            case Op.SetRemove rm -> new Op.SetRemove(rm.element(), list(rm.observed(), map));
            case Op.Delete d -> new Op.Delete(tagsByKey(d.seen(), map));
            case Op.Restore r -> new Op.Restore(map.apply(r.tombstone()));
            case Op.CounterTotal c -> c;
            case Op.SetAdd add -> add;
        };
        return new Change(
                change.table(), change.rowId(), change.scope(), change.field(), op, map.apply(change.clock()));
    }

    /** {@code row} with every clock in its fields, its tombstone and its restore mark mapped. */
    public static RowState row(RowState row, UnaryOperator<Hlc> map) {
        TreeMap<String, FieldState> fields = new TreeMap<>();
        row.fields().forEach((name, state) -> fields.put(name, field(state, map)));
        Tombstone tombstone = row.tombstone() == null
                ? null
                : new Tombstone(
                        map.apply(row.tombstone().clock()),
                        tagsByKey(row.tombstone().seen(), map));
        return new RowState(
                row.table(),
                row.id(),
                row.scope(),
                fields,
                tombstone,
                row.restored() == null ? null : map.apply(row.restored()));
    }

    static FieldState field(FieldState state, UnaryOperator<Hlc> map) {
        return switch (state) {
            case Register r -> new Register(r.value(), map.apply(r.clock()));
            case Counter c -> {
                TreeMap<String, Contribution> by = new TreeMap<>();
                c.byDevice().forEach((device, k) -> by.put(device, new Contribution(k.total(), map.apply(k.clock()))));
                yield new Counter(by);
            }
            case OrSet s -> new OrSet(tagsByKey(s.adds(), map), tagsByKey(s.removed(), map), map.apply(s.clock()));
            case MultiValue m -> {
                TreeMap<Hlc, dev.outpost.model.change.FieldValue> live = new TreeMap<>();
                m.live().forEach((clock, value) -> live.put(map.apply(clock), value));
                yield new MultiValue(live, set(m.superseded(), map), map.apply(m.clock()));
            }
        };
    }

    private static List<Hlc> list(List<Hlc> clocks, UnaryOperator<Hlc> map) {
        return clocks.stream().map(map).toList();
    }

    private static SortedSet<Hlc> set(Collection<Hlc> clocks, UnaryOperator<Hlc> map) {
        TreeSet<Hlc> out = new TreeSet<>();
        clocks.forEach(c -> out.add(map.apply(c)));
        return out;
    }

    private static SortedMap<String, SortedSet<Hlc>> tagsByKey(
            Map<String, ? extends Collection<Hlc>> tags, UnaryOperator<Hlc> map) {
        TreeMap<String, SortedSet<Hlc>> out = new TreeMap<>();
        tags.forEach((key, clocks) -> out.put(key, set(clocks, map)));
        return out;
    }
}
