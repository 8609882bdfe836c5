package dev.outpost.device.sync;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A problem answer from the service (RFC 9457 JSON with Outpost's code and refused changes), read without databind.
 *
 * @param serverTimeMs the server's clock when it answered, or -1
 * @param maxClockSkewMs with a {@code clock-skew} refusal: how far ahead of the server a change may be stamped, or -1
 */
public record Problem(
        int status, String code, String detail, List<Refused> refused, long serverTimeMs, long maxClockSkewMs) {
    public record Refused(int index, String code, String message) {}

    private static final JsonFactory JSON = new JsonFactory();

    public static Problem parse(int status, byte[] body) {
        String code = "http-" + status;
        String detail = "the server answered " + status;
        List<Refused> refused = new ArrayList<>();
        long serverTime = -1;
        long maxSkew = -1;
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return new Problem(status, code, detail, refused, serverTime, maxSkew);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken t = p.nextToken();
                switch (key) {
                    case "code" -> code = p.getText();
                    case "detail" -> detail = p.getText();
                    case "serverTimeMs" -> serverTime = p.getLongValue();
                    case "maxClockSkewMs" -> maxSkew = p.getLongValue();
                    case "refused" -> {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            int index = -1;
                            String c = null, m = null;
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String k = p.currentName();
                                p.nextToken();
                                switch (k) {
                                    case "index" -> index = p.getIntValue();
                                    case "code" -> c = p.getText();
                                    case "message" -> m = p.getText();
                                    default -> p.skipChildren();
                                }
                            }
                            refused.add(new Refused(index, c, m));
                        }
                    }
                    default -> {
                        if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                            p.skipChildren();
                        }
                    }
                }
            }
        } catch (IOException e) {
            // Not a problem body (a proxy's HTML page, say): keep the status line.
        }
        return new Problem(status, code, detail, refused, serverTime, maxSkew);
    }
}
