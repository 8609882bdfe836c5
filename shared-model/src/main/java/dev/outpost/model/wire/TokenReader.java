package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.IOException;

/** Expect-this-token reads over a JSON or CBOR parser; any surprise is {@link ErrorCode#MALFORMED_PAYLOAD}. */
final class TokenReader {
    final JsonParser p;

    TokenReader(JsonParser p) {
        this.p = p;
    }

    JsonToken next() throws IOException {
        JsonToken t = p.nextToken();
        if (t == null) {
            throw malformed("payload ends early");
        }
        return t;
    }

    void expect(JsonToken expected) throws IOException {
        JsonToken t = next();
        if (t != expected) {
            throw malformed("expected " + describe(expected) + ", found " + describe(t));
        }
    }

    long nextLong() throws IOException {
        JsonToken t = next();
        if (t != JsonToken.VALUE_NUMBER_INT) {
            throw malformed("expected an integer, found " + describe(t));
        }
        return p.getLongValue();
    }

    int nextInt() throws IOException {
        long v = nextLong();
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw malformed("integer out of range: " + v);
        }
        return (int) v;
    }

    String nextText() throws IOException {
        JsonToken t = next();
        if (t != JsonToken.VALUE_STRING) {
            throw malformed("expected a string, found " + describe(t));
        }
        return p.getText();
    }

    static OutpostException malformed(String what) {
        return new OutpostException(ErrorCode.MALFORMED_PAYLOAD, "malformed payload: " + what);
    }

    static String describe(JsonToken t) {
        if (t == null) {
            return "end of payload";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case END_OBJECT -> "the end of an object";
            case START_ARRAY -> "an array";
            case END_ARRAY -> "the end of an array";
            case FIELD_NAME -> "a field name";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "an integer";
            case VALUE_NUMBER_FLOAT -> "a decimal number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            case VALUE_EMBEDDED_OBJECT -> "binary data";
            default -> "an unexpected token";
        };
    }
}
