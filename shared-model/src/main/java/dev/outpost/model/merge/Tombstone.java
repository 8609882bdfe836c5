package dev.outpost.model.merge;

import dev.outpost.model.clock.Hlc;
import java.util.Collections;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The deletes a row has received, joined: the latest delete clock, and for each field every write tag some
 * deleting device had seen. A field holding a tag no delete saw holds an update the deletes missed.
 */
public record Tombstone(Hlc clock, SortedMap<String, SortedSet<Hlc>> seen) {
    public Tombstone {
        Objects.requireNonNull(clock);
        TreeMap<String, SortedSet<Hlc>> copy = new TreeMap<>();
        seen.forEach((f, tags) -> copy.put(f, Collections.unmodifiableSortedSet(new TreeSet<>(tags))));
        seen = Collections.unmodifiableSortedMap(copy);
    }

    public Tombstone join(Tombstone other) {
        if (other == null) {
            return this;
        }
        TreeMap<String, SortedSet<Hlc>> merged = new TreeMap<>();
        seen.forEach((f, tags) -> merged.put(f, new TreeSet<>(tags)));
        other.seen.forEach(
                (f, tags) -> merged.computeIfAbsent(f, k -> new TreeSet<>()).addAll(tags));
        return new Tombstone(Hlc.max(clock, other.clock), merged);
    }

    /** The latest tag of {@code state} that no delete saw, or {@code null} when the deletes saw all of them. */
    public Hlc missed(String field, FieldState state) {
        SortedSet<Hlc> saw = seen.getOrDefault(field, Collections.emptySortedSet());
        Hlc latest = null;
        for (Hlc tag : state.tags()) {
            if (!saw.contains(tag)) {
                latest = Hlc.max(latest, tag);
            }
        }
        return latest;
    }
}
