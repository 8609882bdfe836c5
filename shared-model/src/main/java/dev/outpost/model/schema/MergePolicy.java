package dev.outpost.model.schema;

import java.util.Locale;
import java.util.Optional;

/** How concurrent writes to one field are merged; see {@code dev.outpost.model.merge.RowMerge}. */
public enum MergePolicy {
    /** Last writer wins by (HLC, device id). */
    LWW,
    /** Sum of per-device contributions (PN-counter). */
    COUNTER,
    /** Add-wins observed-remove set. */
    SET,
    /** Keeps the largest value ever written. */
    MAX,
    /** Keeps the smallest value ever written. */
    MIN,
    /** LWW winner shown provisionally; concurrent values kept as a conflict for a person. */
    REVIEW;

    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<MergePolicy> get(String key) {
        for (MergePolicy p : values()) {
            if (p.key().equals(key)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Whether this policy can merge a column of the given type. */
    public boolean fits(ColumnType type) {
        return switch (this) {
            case LWW, REVIEW -> type != ColumnType.SET;
            case COUNTER -> type == ColumnType.INT;
            case SET -> type == ColumnType.SET;
            case MAX, MIN -> type.isOrdered();
        };
    }

    /** The policy a column gets when the schema names none. */
    public static MergePolicy defaultFor(ColumnType type) {
        return type == ColumnType.SET ? SET : LWW;
    }
}
