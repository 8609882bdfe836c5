package dev.outpost.model.merge;

import dev.outpost.model.clock.Hlc;
import java.util.Collections;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The deletes a row has received, joined: the latest delete clock, and for each field the latest clock any deleting
 * device had seen. A field whose state is newer than what the deletes saw holds an update they did not see.
 */
public record Tombstone(Hlc clock, SortedMap<String, Hlc> seen) {
    public Tombstone {
        Objects.requireNonNull(clock);
        seen = Collections.unmodifiableSortedMap(new TreeMap<>(seen));
    }

    public Tombstone join(Tombstone other) {
        if (other == null) {
            return this;
        }
        TreeMap<String, Hlc> merged = new TreeMap<>(seen);
        other.seen.forEach((field, c) -> merged.merge(field, c, Hlc::max));
        return new Tombstone(Hlc.max(clock, other.clock), merged);
    }

    /** Whether a field state with clock {@code fieldClock} holds a write this delete did not see. */
    public boolean missed(String field, Hlc fieldClock) {
        Hlc s = seen.get(field);
        return fieldClock != null && (s == null || fieldClock.isAfter(s));
    }
}
