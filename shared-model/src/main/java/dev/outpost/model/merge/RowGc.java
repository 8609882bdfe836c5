package dev.outpost.model.merge;

import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.FieldState.MultiValue;
import dev.outpost.model.merge.FieldState.OrSet;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Drops the merge metadata that only guards against changes that can no longer arrive: in a set field, the add tags a
 * remove took away together with the record of their removal, and removals of tags never added; in a review field,
 * the clocks of replaced writes. Only clocks before a <em>stable</em> time are dropped: the caller's promise that no
 * change stamped before it that the row has not seen will be applied to it again (docs/operations.md, "Tombstones").
 * What a row shows, its conflicts and what a delete issued now has seen ({@link FieldState#tags()}) are unchanged;
 * {@code ConvergenceTest} shows replicas still converge with collection interleaved.
 */
public final class RowGc {
    private RowGc() {}

    /** The row without its tombstones stamped before {@code stableMs}; the same object when there are none. */
    public static RowState collect(RowState row, long stableMs) {
        TreeMap<String, FieldState> fields = null;
        for (Map.Entry<String, FieldState> e : row.fields().entrySet()) {
            FieldState collected = collect(e.getValue(), stableMs);
            if (collected != e.getValue()) {
                if (fields == null) {
                    fields = new TreeMap<>(row.fields());
                }
                fields.put(e.getKey(), collected);
            }
        }
        return fields == null
                ? row
                : new RowState(row.table(), row.id(), row.scope(), fields, row.tombstone(), row.restored());
    }

    private static boolean stable(Hlc clock, long stableMs) {
        return clock.physicalMs() < stableMs;
    }

    static FieldState collect(FieldState field, long stableMs) {
        return switch (field) {
            case OrSet set -> collect(set, stableMs);
            case MultiValue review -> {
                if (review.superseded().stream().noneMatch(c -> stable(c, stableMs))) {
                    yield review;
                }
                TreeSet<Hlc> kept = new TreeSet<>();
                review.superseded().stream().filter(c -> !stable(c, stableMs)).forEach(kept::add);
                yield new MultiValue(review.live(), kept, review.clock());
            }
            default -> field;
        };
    }

    private static FieldState collect(OrSet set, long stableMs) {
        boolean any = false;
        TreeMap<String, SortedSet<Hlc>> adds = new TreeMap<>();
        TreeMap<String, SortedSet<Hlc>> removed = new TreeMap<>();
        set.adds().forEach((element, tags) -> adds.put(element, new TreeSet<>(tags)));
        for (var e : set.removed().entrySet()) {
            SortedSet<Hlc> added = adds.get(e.getKey());
            TreeSet<Hlc> keep = new TreeSet<>();
            for (Hlc tag : e.getValue()) {
                if (stable(tag, stableMs)) {
                    any = true;
                    if (added != null) {
                        added.remove(tag);
                    }
                } else {
                    keep.add(tag);
                }
            }
            if (!keep.isEmpty()) {
                removed.put(e.getKey(), keep);
            }
        }
        if (!any) {
            return set;
        }
        adds.values().removeIf(SortedSet::isEmpty);
        return new OrSet(adds, removed, set.clock());
    }

    /** Whether {@code row} holds anything {@link #collect} would drop before {@code stableMs}. */
    public static boolean hasCollectable(RowState row, long stableMs) {
        return collect(row, stableMs) != row;
    }

    /** The tombstones a row holds: removed set tags and replaced review clocks (for sizes and metrics). */
    public static int tombstones(RowState row) {
        int n = 0;
        for (FieldState f : row.fields().values()) {
            if (f instanceof OrSet s) {
                for (SortedSet<Hlc> tags : s.removed().values()) {
                    n += tags.size();
                }
            } else if (f instanceof MultiValue m) {
                n += m.superseded().size();
            }
        }
        return n;
    }
}
