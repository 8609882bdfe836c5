package dev.outpost.model.merge;

import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.Hlc;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The replicated state of one field, one variant per merge family. Every variant is immutable, uses sorted
 * collections (so equal states are equal objects and iterate alike everywhere) and knows {@link #clock()}: the
 * latest clock of any change that touched it.
 */
public sealed interface FieldState {

    Hlc clock();

    /**
     * The write tags this state holds now: the clocks of the writes whose effect is visible. A delete records them
     * as what it saw; a tag it did not record is an update it missed.
     */
    SortedSet<Hlc> tags();

    /** {@code lww}, {@code max} and {@code min}: one value and the clock of the write that put it there. */
    record Register(FieldValue value, Hlc clock) implements FieldState {
        public Register {
            Objects.requireNonNull(value);
            Objects.requireNonNull(clock);
        }

        @Override
        public SortedSet<Hlc> tags() {
            return Collections.unmodifiableSortedSet(new TreeSet<>(java.util.List.of(clock)));
        }
    }

    /** One device's whole contribution to a counter, as of {@code clock}. */
    record Contribution(long total, Hlc clock) {
        public Contribution {
            Objects.requireNonNull(clock);
        }
    }

    /** {@code counter}: a PN-counter kept as each device's latest total contribution. */
    record Counter(SortedMap<String, Contribution> byDevice) implements FieldState {
        public Counter {
            byDevice = Collections.unmodifiableSortedMap(new TreeMap<>(byDevice));
        }

        public long total() {
            long sum = 0;
            for (Contribution c : byDevice.values()) {
                sum = Math.addExact(sum, c.total());
            }
            return sum;
        }

        public long contributionOf(String deviceId) {
            Contribution c = byDevice.get(deviceId);
            return c == null ? 0 : c.total();
        }

        @Override
        public Hlc clock() {
            Hlc max = null;
            for (Contribution c : byDevice.values()) {
                max = Hlc.max(max, c.clock());
            }
            return max;
        }

        @Override
        public SortedSet<Hlc> tags() {
            SortedSet<Hlc> out = new TreeSet<>();
            byDevice.values().forEach(c -> out.add(c.clock()));
            return Collections.unmodifiableSortedSet(out);
        }
    }

    /**
     * {@code set}: an add-wins observed-remove set. Each add is tagged with its change's clock; a remove takes away
     * exactly the tags it observed, so an add it did not observe survives.
     */
    record OrSet(SortedMap<String, SortedSet<Hlc>> adds, SortedMap<String, SortedSet<Hlc>> removed, Hlc clock)
            implements FieldState {
        public OrSet {
            adds = frozen(adds);
            removed = frozen(removed);
            Objects.requireNonNull(clock);
        }

        /** The elements present: those with an add tag no remove observed. */
        public SortedSet<String> elements() {
            SortedSet<String> out = new TreeSet<>();
            for (var e : adds.entrySet()) {
                SortedSet<Hlc> gone = removed.getOrDefault(e.getKey(), Collections.emptySortedSet());
                for (Hlc tag : e.getValue()) {
                    if (!gone.contains(tag)) {
                        out.add(e.getKey());
                        break;
                    }
                }
            }
            return Collections.unmodifiableSortedSet(out);
        }

        /** The add tags of {@code element} still present: what a remove issued now must observe. */
        public SortedSet<Hlc> liveTags(String element) {
            SortedSet<Hlc> live = new TreeSet<>(adds.getOrDefault(element, Collections.emptySortedSet()));
            live.removeAll(removed.getOrDefault(element, Collections.emptySortedSet()));
            return live;
        }

        @Override
        public SortedSet<Hlc> tags() {
            SortedSet<Hlc> out = new TreeSet<>();
            adds.keySet().forEach(e -> out.addAll(liveTags(e)));
            return Collections.unmodifiableSortedSet(out);
        }
    }

    /**
     * {@code review}: a multi-value register. {@code live} holds every value no later write replaced; more than one
     * is a conflict, shown with the highest clock winning provisionally. {@code superseded} remembers replaced
     * clocks so a late copy of a replaced write cannot come back.
     */
    record MultiValue(SortedMap<Hlc, FieldValue> live, SortedSet<Hlc> superseded, Hlc clock) implements FieldState {
        public MultiValue {
            live = Collections.unmodifiableSortedMap(new TreeMap<>(live));
            superseded = Collections.unmodifiableSortedSet(new TreeSet<>(superseded));
            Objects.requireNonNull(clock);
        }

        /** The provisional winner: the live value with the highest clock. */
        public FieldValue winner() {
            return live.isEmpty() ? FieldValue.NULL : live.get(live.lastKey());
        }

        public Hlc winnerClock() {
            return live.isEmpty() ? null : live.lastKey();
        }

        @Override
        public SortedSet<Hlc> tags() {
            return Collections.unmodifiableSortedSet(new TreeSet<>(live.keySet()));
        }
    }

    private static SortedMap<String, SortedSet<Hlc>> frozen(Map<String, SortedSet<Hlc>> m) {
        TreeMap<String, SortedSet<Hlc>> copy = new TreeMap<>();
        for (var e : m.entrySet()) {
            // An element with no tags means nothing (a remove that observed none): kept out, so that equal sets are
            // equal however they were reached (a replica that collected tombstones before such a remove arrived).
            if (!e.getValue().isEmpty()) {
                copy.put(e.getKey(), Collections.unmodifiableSortedSet(new TreeSet<>(e.getValue())));
            }
        }
        return Collections.unmodifiableSortedMap(copy);
    }
}
