package dev.outpost.device;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reads top-level fields of the service's small JSON answers with the streaming parser (no reflection). */
public final class JsonFields {
    private static final JsonFactory JSON = new JsonFactory();

    private JsonFields() {}

    /** The strings of the array under {@code key}, anywhere in the document. */
    public static List<String> strings(String json, String key) {
        List<String> out = new ArrayList<>();
        try (JsonParser p = JSON.createParser(json)) {
            while (p.nextToken() != null) {
                if (p.currentToken() == JsonToken.FIELD_NAME && key.equals(p.currentName())) {
                    p.nextToken();
                    while (p.nextToken() == JsonToken.VALUE_STRING) {
                        out.add(p.getText());
                    }
                }
            }
        } catch (IOException e) {
            throw new DeviceException(ExitCode.UNREACHABLE, "the server's answer could not be read", e);
        }
        return out;
    }

    /** The first string value under {@code key}. */
    public static Optional<String> string(String json, String key) {
        try (JsonParser p = JSON.createParser(json)) {
            while (p.nextToken() != null) {
                if (p.currentToken() == JsonToken.FIELD_NAME && key.equals(p.currentName())) {
                    return p.nextToken() == JsonToken.VALUE_STRING ? Optional.of(p.getText()) : Optional.empty();
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            throw new DeviceException(ExitCode.UNREACHABLE, "the server's answer could not be read", e);
        }
    }
}
