package dev.outpost.model.schema;

import java.util.Locale;
import java.util.Optional;

/** The column types a schema may declare. */
public enum ColumnType {
    TEXT,
    INT,
    DECIMAL,
    BOOL,
    DATE,
    TIMESTAMP,
    JSON,
    REF,
    SET;

    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<ColumnType> get(String key) {
        for (ColumnType t : values()) {
            if (t.key().equals(key)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Whether {@code max}/{@code min} make sense: the values have a natural order. */
    public boolean isOrdered() {
        return this == TEXT || this == INT || this == DECIMAL || this == DATE || this == TIMESTAMP;
    }
}
