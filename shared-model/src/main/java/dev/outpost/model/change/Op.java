package dev.outpost.model.change;

import dev.outpost.model.clock.Hlc;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a change does to its field (or, for {@link Delete} and {@link Restore}, to its row). Every op is a small
 * piece of replicated state, so applying it twice, late or out of order gives the same row.
 */
public sealed interface Op {

    /**
     * Writes a value to an {@code lww}, {@code max}, {@code min} or {@code review} field. For {@code review} fields,
     * {@code replaces} holds the clocks of the values the writer saw and meant to replace; a value it did not list
     * stays as a conflict.
     */
    record Assign(FieldValue value, List<Hlc> replaces) implements Op {
        public Assign {
            Objects.requireNonNull(value);
            replaces = List.copyOf(replaces);
        }

        public Assign(FieldValue value) {
            this(value, List.of());
        }
    }

    /**
     * The writing device's whole contribution to a {@code counter} field after its latest increment (not the
     * increment itself), so a duplicate or a lost intermediate change cannot count twice or drop an increment.
     */
    record CounterTotal(long total) implements Op {}

    /** Adds an element to a {@code set} field; the change's clock tags this add. */
    record SetAdd(String element) implements Op {
        public SetAdd {
            Objects.requireNonNull(element);
        }
    }

    /** Removes the adds of an element the writer had seen; a concurrent add it had not seen survives (add wins). */
    record SetRemove(String element, List<Hlc> observed) implements Op {
        public SetRemove {
            Objects.requireNonNull(element);
            observed = List.copyOf(observed);
        }
    }

    /**
     * Deletes the row. {@code seen} maps each field to the write tags (clocks) the deleting device held for it: the
     * register's clock, each device's counter contribution, the live set tags, the live review values. Any tag the
     * field holds later that is not listed is an update the delete did not see, and becomes a conflict.
     */
    record Delete(SortedMap<String, SortedSet<Hlc>> seen) implements Op {
        public Delete {
            TreeMap<String, SortedSet<Hlc>> copy = new TreeMap<>();
            seen.forEach((f, tags) -> copy.put(f, Collections.unmodifiableSortedSet(new TreeSet<>(tags))));
            seen = Collections.unmodifiableSortedMap(copy);
        }

        public static Delete of(Map<String, ? extends Collection<Hlc>> seen) {
            TreeMap<String, SortedSet<Hlc>> m = new TreeMap<>();
            seen.forEach((f, tags) -> m.put(f, new TreeSet<>(tags)));
            return new Delete(m);
        }
    }

    /** Undoes the delete with clock {@code tombstone} (and any earlier one), bringing the row back. */
    record Restore(Hlc tombstone) implements Op {
        public Restore {
            Objects.requireNonNull(tombstone);
        }
    }
}
