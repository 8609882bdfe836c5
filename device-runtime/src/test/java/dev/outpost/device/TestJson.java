package dev.outpost.device;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.UncheckedIOException;
import java.util.Map;

/** What tests read of the JSON the device and the service print: parsed, then compared by value. */
final class TestJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TestJson() {}

    static JsonNode parse(String json) {
        try {
            return MAPPER.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException("not JSON: " + json, e);
        }
    }

    /** A number field of a JSON object (fails when absent or not a number). */
    static long number(String json, String field) {
        JsonNode n = parse(json).get(field);
        if (n == null || !n.isNumber()) {
            throw new AssertionError("no number '" + field + "' in " + json);
        }
        return n.asLong();
    }

    /** Whether some object anywhere in the document has every one of {@code fields} with that value (as text). */
    static boolean hasObject(String json, Map<String, String> fields) {
        return hasObject(parse(json), fields);
    }

    private static boolean hasObject(JsonNode n, Map<String, String> fields) {
        if (n.isObject()
                && fields.entrySet().stream()
                        .allMatch(f ->
                                n.has(f.getKey()) && n.get(f.getKey()).asText().equals(f.getValue()))) {
            return true;
        }
        for (JsonNode child : n) {
            if (hasObject(child, fields)) {
                return true;
            }
        }
        return false;
    }

    /** The model status object of {@code artifact} in {@code model status} JSON. */
    static JsonNode artifact(String modelStatus, String artifact) {
        for (JsonNode a : parse(modelStatus).get("artifacts")) {
            if (a.get("artifact").asText().equals(artifact)) {
                return a;
            }
        }
        throw new AssertionError("no artifact " + artifact + " in " + modelStatus);
    }

    /** The elements of a JSON array field as text, in order. */
    static java.util.List<String> texts(JsonNode array) {
        java.util.List<String> out = new java.util.ArrayList<>();
        array.forEach(e -> out.add(e.asText()));
        return out;
    }
}
