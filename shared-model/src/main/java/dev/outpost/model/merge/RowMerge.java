package dev.outpost.model.merge;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.FieldState.Contribution;
import dev.outpost.model.merge.FieldState.Counter;
import dev.outpost.model.merge.FieldState.MultiValue;
import dev.outpost.model.merge.FieldState.OrSet;
import dev.outpost.model.merge.FieldState.Register;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Table;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The merge function, the same on the server and on every device. Each change is turned into a small row state
 * (a delta) and joined into the current state; {@link #join} is commutative, associative and idempotent for every
 * policy, so replicas that have received the same changes, in any order and any number of times, hold equal rows.
 *
 * <p>Pure: no clock, no I/O, no randomness. Changes are assumed to have passed {@code ChangeValidator}.
 */
public final class RowMerge {
    private RowMerge() {}

    /** What applying one change did. {@code opened} lists conflicts that the change created or widened. */
    public record Outcome(RowState row, boolean changed, List<Conflict> opened) {}

    /** Applies one change to a row ({@code current} may be {@code null} for a row not seen yet). */
    public static Outcome apply(Table table, RowState current, Change change) {
        RowState before = current != null ? current : RowState.empty(change.table(), change.rowId(), change.scope());
        RowState after = join(table, before, delta(table, change));
        if (after.equals(before)) {
            return new Outcome(before, false, List.of());
        }
        List<Conflict> was = RowConflicts.of(table, before);
        List<Conflict> opened = new ArrayList<>();
        for (Conflict c : RowConflicts.of(table, after)) {
            if (!was.contains(c)) {
                opened.add(c);
            }
        }
        return new Outcome(after, true, opened);
    }

    /** The row state that holds exactly one change. */
    public static RowState delta(Table table, Change change) {
        TreeMap<String, FieldState> fields = new TreeMap<>();
        Tombstone tombstone = null;
        Hlc restored = null;
        Hlc clock = change.clock();
        switch (change.op()) {
            case Op.Assign a -> {
                MergePolicy policy = policy(table, change.field());
                if (policy == MergePolicy.REVIEW) {
                    TreeMap<Hlc, FieldValue> live = new TreeMap<>();
                    live.put(clock, a.value());
                    fields.put(change.field(), new MultiValue(live, new TreeSet<>(a.replaces()), clock));
                } else {
                    fields.put(change.field(), new Register(a.value(), clock));
                }
            }
            case Op.CounterTotal c -> {
                TreeMap<String, Contribution> by = new TreeMap<>();
                by.put(clock.deviceId(), new Contribution(c.total(), clock));
                fields.put(change.field(), new Counter(by));
            }
            case Op.SetAdd add -> {
                TreeMap<String, SortedSet<Hlc>> adds = new TreeMap<>();
                adds.put(add.element(), new TreeSet<>(List.of(clock)));
                fields.put(change.field(), new OrSet(adds, new TreeMap<>(), clock));
            }
            case Op.SetRemove rm -> {
                TreeMap<String, SortedSet<Hlc>> removed = new TreeMap<>();
                removed.put(rm.element(), new TreeSet<>(rm.observed()));
                fields.put(change.field(), new OrSet(new TreeMap<>(), removed, clock));
            }
            case Op.Delete d -> tombstone = new Tombstone(clock, d.seen());
            case Op.Restore r -> restored = r.tombstone();
        }
        return new RowState(change.table(), change.rowId(), change.scope(), fields, tombstone, restored);
    }

    /** The least upper bound of two states of the same row. */
    public static RowState join(Table table, RowState a, RowState b) {
        if (!a.id().equals(b.id()) || !a.table().equals(b.table())) {
            throw new IllegalArgumentException("join of different rows: " + a.id() + " and " + b.id());
        }
        if (!a.scope().equals(b.scope())) {
            throw new OutpostException(
                    ErrorCode.SCOPE_CHANGE,
                    "row " + a.table() + "/" + a.id() + " is in scope '" + a.scope() + "', not '" + b.scope() + "'");
        }
        TreeMap<String, FieldState> fields = new TreeMap<>(a.fields());
        for (Map.Entry<String, FieldState> e : b.fields().entrySet()) {
            FieldState mine = fields.get(e.getKey());
            fields.put(
                    e.getKey(), mine == null ? e.getValue() : joinField(policy(table, e.getKey()), mine, e.getValue()));
        }
        Tombstone tombstone =
                a.tombstone() == null ? b.tombstone() : a.tombstone().join(b.tombstone());
        return new RowState(a.table(), a.id(), a.scope(), fields, tombstone, Hlc.max(a.restored(), b.restored()));
    }

    static FieldState joinField(MergePolicy policy, FieldState a, FieldState b) {
        return switch (a) {
            case Register ra -> joinRegister(policy, ra, (Register) b);
            case Counter ca -> {
                TreeMap<String, Contribution> by = new TreeMap<>(ca.byDevice());
                ((Counter) b).byDevice().forEach((device, c) -> by.merge(device, c, RowMerge::laterContribution));
                yield new Counter(by);
            }
            case OrSet sa -> {
                OrSet sb = (OrSet) b;
                yield new OrSet(
                        unionTags(sa.adds(), sb.adds()),
                        unionTags(sa.removed(), sb.removed()),
                        Hlc.max(sa.clock(), sb.clock()));
            }
            case MultiValue ma -> {
                MultiValue mb = (MultiValue) b;
                TreeSet<Hlc> superseded = new TreeSet<>(ma.superseded());
                superseded.addAll(mb.superseded());
                TreeMap<Hlc, FieldValue> live = new TreeMap<>(ma.live());
                live.putAll(mb.live());
                live.keySet().removeAll(superseded);
                yield new MultiValue(live, superseded, Hlc.max(ma.clock(), mb.clock()));
            }
        };
    }

    private static Register joinRegister(MergePolicy policy, Register a, Register b) {
        int byValue = a.value().compareTo(b.value());
        int byClock = a.clock().compareTo(b.clock());
        boolean aWins = switch (policy) {
            case MAX -> byValue != 0 ? byValue > 0 : byClock >= 0;
            case MIN -> {
                // A null never beats a value under min: clearing is not "smaller".
                boolean aNull = a.value() instanceof FieldValue.Null;
                boolean bNull = b.value() instanceof FieldValue.Null;
                if (aNull != bNull) {
                    yield bNull;
                }
                yield byValue != 0 ? byValue < 0 : byClock >= 0;
            }
            default -> byClock != 0 ? byClock > 0 : byValue >= 0;
        };
        return aWins ? a : b;
    }

    private static Contribution laterContribution(Contribution a, Contribution b) {
        int byClock = a.clock().compareTo(b.clock());
        if (byClock != 0) {
            return byClock > 0 ? a : b;
        }
        return a.total() >= b.total() ? a : b;
    }

    private static TreeMap<String, SortedSet<Hlc>> unionTags(
            Map<String, SortedSet<Hlc>> a, Map<String, SortedSet<Hlc>> b) {
        TreeMap<String, SortedSet<Hlc>> out = new TreeMap<>();
        a.forEach((k, v) -> out.put(k, new TreeSet<>(v)));
        b.forEach((k, v) -> out.computeIfAbsent(k, x -> new TreeSet<>()).addAll(v));
        return out;
    }

    private static MergePolicy policy(Table table, String field) {
        Column c = table.columns().get(field);
        if (c == null) {
            throw new OutpostException(ErrorCode.UNKNOWN_FIELD, "unknown field '" + table.name() + "." + field + "'");
        }
        return c.merge();
    }
}
