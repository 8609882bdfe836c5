package dev.outpost.model.change;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Objects;

/**
 * A typed field value as it travels and merges. One variant per column type ({@code ref} travels as {@link Text});
 * {@link Null} clears a field. Values of one column always share a variant, which the schema checks on arrival.
 */
public sealed interface FieldValue extends Comparable<FieldValue> {
    Null NULL = new Null();

    record Null() implements FieldValue {}

    record Text(String value) implements FieldValue {
        public Text {
            Objects.requireNonNull(value);
        }
    }

    record Int(long value) implements FieldValue {}

    /** Compared by numeric value, equal only with the same scale: {@code 1.50} and {@code 1.5} are different writes. */
    record Decimal(BigDecimal value) implements FieldValue {
        public Decimal {
            Objects.requireNonNull(value);
        }
    }

    record Bool(boolean value) implements FieldValue {}

    record Date(LocalDate value) implements FieldValue {
        public Date {
            Objects.requireNonNull(value);
        }
    }

    /** Millisecond precision: the wire carries epoch milliseconds. */
    record Timestamp(Instant value) implements FieldValue {
        public Timestamp {
            Objects.requireNonNull(value);
            if (value.getNano() % 1_000_000 != 0) {
                throw new IllegalArgumentException("timestamps carry millisecond precision: " + value);
            }
        }
    }

    /** A JSON document in canonical compact text, so equal documents compare equal. */
    record Json(String canonicalText) implements FieldValue {
        public Json {
            Objects.requireNonNull(canonicalText);
        }
    }

    /**
     * A total order used by {@code max}/{@code min} and as the last tie-break: natural order within a variant, and
     * variants in declaration order otherwise (null first).
     */
    @Override
    default int compareTo(FieldValue other) {
        int byKind = Integer.compare(rank(this), rank(other));
        if (byKind != 0) {
            return byKind;
        }
        return switch (this) {
            case Null n -> 0;
            case Text t -> t.value().compareTo(((Text) other).value());
            case Int i -> Long.compare(i.value(), ((Int) other).value());
            case Decimal d -> {
                int c = d.value().compareTo(((Decimal) other).value());
                yield c != 0
                        ? c
                        : Integer.compare(
                                d.value().scale(), ((Decimal) other).value().scale());
            }
            case Bool b -> Boolean.compare(b.value(), ((Bool) other).value());
            case Date d -> d.value().compareTo(((Date) other).value());
            case Timestamp t -> t.value().compareTo(((Timestamp) other).value());
            case Json j -> j.canonicalText().compareTo(((Json) other).canonicalText());
        };
    }

    private static int rank(FieldValue v) {
        return switch (v) {
            case Null n -> 0;
            case Text t -> 1;
            case Int i -> 2;
            case Decimal d -> 3;
            case Bool b -> 4;
            case Date d -> 5;
            case Timestamp t -> 6;
            case Json j -> 7;
        };
    }

    static Text text(String s) {
        return new Text(s);
    }

    static Int integer(long v) {
        return new Int(v);
    }

    static Decimal decimal(String v) {
        return new Decimal(new BigDecimal(v));
    }
}
