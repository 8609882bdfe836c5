package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.ErrorCode;
import java.io.IOException;

/** Admin request bodies, parsed here so a bad body is a problem answer with our code, not a framework message. */
final class JsonBodies {
    static final ObjectMapper JSON = new ObjectMapper();

    private JsonBodies() {}

    static JsonNode object(byte[] body) {
        if (body == null || body.length == 0) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "empty body: send a JSON object");
        }
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || !n.isObject()) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "the body must be a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "the body is not valid JSON");
        }
    }
}
