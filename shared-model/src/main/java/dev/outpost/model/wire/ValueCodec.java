package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.schema.ColumnType;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;

/**
 * Field values on the wire. JSON: strings, numbers, booleans, ISO dates ({@code 2026-03-10}) and instants
 * ({@code 2026-03-10T08:15:00.250Z}), json columns as embedded JSON. Binary: the same, with dates as epoch days and
 * timestamps as epoch milliseconds. Both decode against the column type from the schema.
 */
final class ValueCodec {
    private static final JsonFactory JSON = new JsonFactory();

    private ValueCodec() {}

    static void writeJson(JsonGenerator g, FieldValue v) throws IOException {
        switch (v) {
            case FieldValue.Null n -> g.writeNull();
            case FieldValue.Text t -> g.writeString(t.value());
            case FieldValue.Int i -> g.writeNumber(i.value());
            case FieldValue.Decimal d -> g.writeNumber(d.value());
            case FieldValue.Bool b -> g.writeBoolean(b.value());
            case FieldValue.Date d -> g.writeString(d.value().toString());
            case FieldValue.Timestamp t -> g.writeString(t.value().toString());
            case FieldValue.Json j -> g.writeRawValue(j.canonicalText());
        }
    }

    static void writeBinary(JsonGenerator g, FieldValue v) throws IOException {
        switch (v) {
            case FieldValue.Null n -> g.writeNull();
            case FieldValue.Text t -> g.writeString(t.value());
            case FieldValue.Int i -> g.writeNumber(i.value());
            case FieldValue.Decimal d -> g.writeString(d.value().toString());
            case FieldValue.Bool b -> g.writeBoolean(b.value());
            case FieldValue.Date d -> g.writeNumber(d.value().toEpochDay());
            case FieldValue.Timestamp t -> g.writeNumber(t.value().toEpochMilli());
            case FieldValue.Json j -> g.writeString(j.canonicalText());
        }
    }

    /** Reads the value whose first token is current, for a column of {@code type}. */
    static FieldValue readJson(JsonParser p, ColumnType type, String where) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return FieldValue.NULL;
        }
        try {
            return switch (type) {
                case TEXT, REF ->
                    new FieldValue.Text(
                            expect(p, JsonToken.VALUE_STRING, type, where).getText());
                case INT ->
                    new FieldValue.Int(
                            expect(p, JsonToken.VALUE_NUMBER_INT, type, where).getLongValue());
                case DECIMAL -> {
                    if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                        yield new FieldValue.Decimal(p.getDecimalValue());
                    }
                    yield new FieldValue.Decimal(new BigDecimal(
                            expect(p, JsonToken.VALUE_STRING, type, where).getText()));
                }
                case BOOL -> {
                    if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
                        throw mismatch(type, where, t);
                    }
                    yield new FieldValue.Bool(t == JsonToken.VALUE_TRUE);
                }
                case DATE ->
                    new FieldValue.Date(LocalDate.parse(
                            expect(p, JsonToken.VALUE_STRING, type, where).getText()));
                case TIMESTAMP ->
                    new FieldValue.Timestamp(millis(Instant.parse(
                            expect(p, JsonToken.VALUE_STRING, type, where).getText())));
                case JSON -> new FieldValue.Json(compactCopy(p));
                case SET -> throw mismatch(type, where, t);
            };
        } catch (NumberFormatException | DateTimeParseException | ArithmeticException e) {
            throw new OutpostException(ErrorCode.TYPE_MISMATCH, where + ": not a valid " + type.key() + " value");
        }
    }

    static FieldValue readBinary(JsonParser p, ColumnType type, String where) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return FieldValue.NULL;
        }
        try {
            return switch (type) {
                case TEXT, REF ->
                    new FieldValue.Text(
                            expect(p, JsonToken.VALUE_STRING, type, where).getText());
                case INT ->
                    new FieldValue.Int(
                            expect(p, JsonToken.VALUE_NUMBER_INT, type, where).getLongValue());
                case DECIMAL ->
                    new FieldValue.Decimal(new BigDecimal(
                            expect(p, JsonToken.VALUE_STRING, type, where).getText()));
                case BOOL -> {
                    if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
                        throw mismatch(type, where, t);
                    }
                    yield new FieldValue.Bool(t == JsonToken.VALUE_TRUE);
                }
                case DATE ->
                    new FieldValue.Date(LocalDate.ofEpochDay(
                            expect(p, JsonToken.VALUE_NUMBER_INT, type, where).getLongValue()));
                case TIMESTAMP ->
                    new FieldValue.Timestamp(Instant.ofEpochMilli(
                            expect(p, JsonToken.VALUE_NUMBER_INT, type, where).getLongValue()));
                case JSON ->
                    new FieldValue.Json(
                            expect(p, JsonToken.VALUE_STRING, type, where).getText());
                case SET -> throw mismatch(type, where, t);
            };
        } catch (NumberFormatException | java.time.DateTimeException | ArithmeticException e) {
            throw new OutpostException(ErrorCode.TYPE_MISMATCH, where + ": not a valid " + type.key() + " value");
        }
    }

    /**
     * Compact JSON text of the structure at the current token; the parser ends on its last token. Numbers are
     * copied as written (Jackson's own copy goes through {@code double} and would lose decimal digits).
     */
    static String compactCopy(JsonParser p) throws IOException {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            int depth = 0;
            do {
                JsonToken t = p.currentToken();
                switch (t) {
                    case START_OBJECT -> {
                        g.writeStartObject();
                        depth++;
                    }
                    case START_ARRAY -> {
                        g.writeStartArray();
                        depth++;
                    }
                    case END_OBJECT -> {
                        g.writeEndObject();
                        depth--;
                    }
                    case END_ARRAY -> {
                        g.writeEndArray();
                        depth--;
                    }
                    case FIELD_NAME -> g.writeFieldName(p.currentName());
                    case VALUE_STRING -> g.writeString(p.getText());
                    case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> g.writeNumber(p.getText());
                    case VALUE_TRUE, VALUE_FALSE -> g.writeBoolean(t == JsonToken.VALUE_TRUE);
                    case VALUE_NULL -> g.writeNull();
                    default -> throw TokenReader.malformed("unexpected token in a JSON value");
                }
                if (depth > 0 && p.nextToken() == null) {
                    throw TokenReader.malformed("payload ends early");
                }
            } while (depth > 0);
        }
        return out.toString();
    }

    private static Instant millis(Instant i) {
        if (i.getNano() % 1_000_000 != 0) {
            throw new ArithmeticException("sub-millisecond timestamp");
        }
        return i;
    }

    private static JsonParser expect(JsonParser p, JsonToken token, ColumnType type, String where) {
        if (p.currentToken() != token) {
            throw mismatch(type, where, p.currentToken());
        }
        return p;
    }

    private static OutpostException mismatch(ColumnType type, String where, JsonToken found) {
        return new OutpostException(
                ErrorCode.TYPE_MISMATCH,
                where + ": expected a " + type.key() + " value, found " + TokenReader.describe(found));
    }
}
