package dev.outpost.model.merge;

import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.Hlc;
import java.util.List;
import java.util.Objects;

/**
 * Competing writes that a person must review. The first candidate is the provisional winner (what reads show
 * now); every other candidate is a value that would otherwise have been lost. Derived from row state, so every
 * replica that holds the same row reports the same conflicts.
 */
public record Conflict(String table, String rowId, String field, Kind kind, List<Candidate> candidates) {
    public enum Kind {
        /** A {@code review} field written by writers that had not seen each other's value. */
        CONCURRENT_WRITES("concurrent-writes"),
        /** A delete that had not seen an update to the row (field is {@code null}). */
        DELETE_VS_UPDATE("delete-vs-update");

        private final String key;

        Kind(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    /**
     * One competing write: the field it wrote and its value (its visible value for counters and sets), or
     * {@code delete} with no field and no value.
     */
    public record Candidate(String field, FieldValue value, Hlc clock, boolean delete) {
        public Candidate {
            Objects.requireNonNull(clock);
        }

        public String deviceId() {
            return clock.deviceId();
        }
    }

    public Conflict {
        Objects.requireNonNull(table);
        Objects.requireNonNull(rowId);
        Objects.requireNonNull(kind);
        candidates = List.copyOf(candidates);
    }

    public Candidate winner() {
        return candidates.getFirst();
    }

    /** The clocks a resolution must replace to close this conflict. */
    public List<Hlc> clocks() {
        return candidates.stream().map(Candidate::clock).toList();
    }
}
