package dev.outpost.sync;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

/**
 * Generated hostile requests against the service (issue 20, "hostile input"): mutated binary and JSON sync bodies,
 * truncated and oversized bodies, bad headers, paths and credentials. Every one is built to be refused: pushes are
 * stamped by another device than the credential's, paths carry a segment no route has, bodies sent to admin
 * endpoints are noise. The same seed gives the same requests, so a failure replays. Sent over a raw socket
 * ({@link #send}), so that any header, length or method is what the generator says.
 */
public final class HostileRequests {
    /** One request as bytes on the wire; {@code declaredLength} over {@code body.length} sends a truncated body. */
    public record Raw(String kind, String method, String path, List<String> headers, byte[] body, long declaredLength) {
        public String describe() {
            return kind + " " + method + " " + (path.length() > 120 ? path.substring(0, 120) + "..." : path)
                    + " headers=" + headers + " body=" + body.length + "B declared=" + declaredLength;
        }
    }

    /** The answer: status (-1 when the connection closed without one), content type, body. */
    public record Answer(int status, String contentType, String body) {}

    private static final WireCodec CODEC = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);
    private static final String[] JUNK_VALUES = {
        "null",
        "-1",
        "1e309",
        "\"\\u0000\"",
        "[]",
        "{}",
        "99999999999999999999999999",
        "\"" + "x".repeat(5000) + "\"",
        "true",
        "\"\\ud800\"",
        "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
        "\"../../etc/passwd\"",
        "0.0000001",
        "\"\""
    };
    private static final String[] CONTENT_TYPES = {
        "application/json",
        "application/vnd.outpost.v1+cbor",
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "",
        "*/*",
        "application/x-www-form-urlencoded"
    };
    /** Not OPTIONS: the REST layer answers it for any matching route with the methods allowed, and nothing else. */
    private static final String[] METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "TRACE", "FOO"};

    private static final String[] ROUTES = {
        "/v1/sync", "/v1/device/assignments", "/v1/device/schema", "/v1/device/model-reports", "/v1/chunks/",
        "/v1/deltas/", "/v1/artifacts/", "/v1/admin/devices/", "/v1/admin/data/", "/v1/admin/conflicts/",
        "/v1/admin/rollouts/", "/v1/admin/artifacts/", "/v1/admin/fleet/", "/v1/frames?list="
    };
    private static final String[] JUNK_SEGMENTS = {
        "%00",
        "..%2F..%2F",
        "%ff%fe",
        "no-such-thing",
        "x".repeat(3000),
        "%",
        "a b",
        "<script>",
        "'; drop table x;--",
        "%2e%2e/%2e%2e/no-such-route",
        "\u00e9t\u00e9",
        "0x7fffffff",
        "-1",
        "1e99"
    };

    private final Random random;
    private final String deviceToken;
    private final String adminToken;
    private final int payloadBytesMax;
    private final byte[] binaryPush;
    private final String jsonPush;

    /**
     * {@code deviceToken} is a registered device's (its pushes stamped by another device are refused);
     * {@code payloadBytesMax} the service's sync payload limit (oversized bodies go just past it).
     */
    public HostileRequests(long seed, String deviceId, String deviceToken, String adminToken, int payloadBytesMax) {
        this.random = new Random(seed);
        this.deviceToken = deviceToken;
        this.adminToken = adminToken;
        this.payloadBytesMax = payloadBytesMax;
        List<Change> changes = new ArrayList<>();
        // Stamped by "someone-else": the service refuses a push of another device's changes, so no mutation that
        // leaves the body readable makes it a write.
        Hlc clock = new Hlc(1_796_000_000_000L, 0, "someone-else"); // fixed: the same seed, the same bytes
        changes.add(new Change(
                "farmer", "fz-1", "nakuru", "name", new Op.Assign(new FieldValue.Text("Fuzzed Farmer")), clock));
        changes.add(new Change("crop_record", "cz-1", "nakuru", "bags_harvested", new Op.CounterTotal(3), clock));
        changes.add(new Change("crop_record", "cz-1", "nakuru", "pests", new Op.SetAdd("aphids"), clock));
        SyncRequest push = new SyncRequest(deviceId, 1, "fuzz-batch", null, 100, changes);
        this.binaryPush = CODEC.encode(push, WireFormat.BINARY);
        this.jsonPush = new String(CODEC.encode(push, WireFormat.JSON), StandardCharsets.UTF_8);
    }

    public Raw next() {
        int pick = random.nextInt(100);
        if (pick < 25) {
            return sync("binary-mutated", mutateBinary(), "application/vnd.outpost.v1+cbor");
        } else if (pick < 50) {
            return sync("json-mutated", mutateJson(jsonPush).getBytes(StandardCharsets.UTF_8), "application/json");
        } else if (pick < 62) {
            return badHeaders();
        } else if (pick < 77) {
            return badPath();
        } else if (pick < 87) {
            return badCredential();
        } else if (pick < 95) {
            return truncated();
        } else {
            return oversized();
        }
    }

    private byte[] mutateBinary() {
        byte[] b = binaryPush.clone();
        int edits = 1 + random.nextInt(8);
        for (int i = 0; i < edits && b.length > 0; i++) {
            int at = random.nextInt(b.length);
            switch (random.nextInt(5)) {
                case 0 -> b[at] ^= (byte) (1 << random.nextInt(8));
                case 1 -> b[at] = (byte) random.nextInt(256);
                case 2 -> b = java.util.Arrays.copyOf(b, at); // truncated
                case 3 -> { // bytes inserted
                    byte[] noise = new byte[1 + random.nextInt(16)];
                    random.nextBytes(noise);
                    byte[] out = new byte[b.length + noise.length];
                    System.arraycopy(b, 0, out, 0, at);
                    System.arraycopy(noise, 0, out, at, noise.length);
                    System.arraycopy(b, at, out, at + noise.length, b.length - at);
                    b = out;
                }
                default -> { // a range removed
                    int len = Math.min(b.length - at, 1 + random.nextInt(32));
                    byte[] out = new byte[b.length - len];
                    System.arraycopy(b, 0, out, 0, at);
                    System.arraycopy(b, at + len, out, at, b.length - at - len);
                    b = out;
                }
            }
        }
        return b;
    }

    private String mutateJson(String json) {
        StringBuilder s = new StringBuilder(json);
        int edits = 1 + random.nextInt(4);
        for (int i = 0; i < edits && !s.isEmpty(); i++) {
            int at = random.nextInt(s.length());
            switch (random.nextInt(4)) {
                case 0 -> s.setCharAt(at, (char) (32 + random.nextInt(95)));
                case 1 -> s.insert(at, JUNK_VALUES[random.nextInt(JUNK_VALUES.length)]);
                case 2 -> s.setLength(at);
                default -> {
                    // a value after a colon replaced whole
                    int colon = s.indexOf(":", at);
                    if (colon >= 0) {
                        int end = colon + 1;
                        while (end < s.length() && ",}]".indexOf(s.charAt(end)) < 0) {
                            end++;
                        }
                        s.replace(colon + 1, end, JUNK_VALUES[random.nextInt(JUNK_VALUES.length)]);
                    }
                }
            }
        }
        return s.toString();
    }

    private Raw sync(String kind, byte[] body, String contentType) {
        return new Raw(
                kind,
                "POST",
                "/v1/sync",
                List.of("Authorization: Bearer " + deviceToken, "Content-Type: " + contentType),
                body,
                body.length);
    }

    private Raw badHeaders() {
        boolean binary = random.nextBoolean();
        byte[] body = binary ? binaryPush : jsonPush.getBytes(StandardCharsets.UTF_8);
        List<String> headers = new ArrayList<>();
        headers.add("Authorization: Bearer " + deviceToken);
        headers.add("Content-Type: " + CONTENT_TYPES[random.nextInt(CONTENT_TYPES.length)]);
        switch (random.nextInt(4)) {
            case 0 -> headers.add("Content-Encoding: gzip"); // not gzip
            case 1 -> headers.add("Content-Encoding: " + pickOf("br", "deflate", "x-unknown", "gzip, gzip"));
            case 2 -> headers.add("Accept: " + pickOf("image/png", "application/xml", "", "*/*;q=x"));
            default -> headers.add("X-Request-Id: " + "\u00e9".repeat(1 + random.nextInt(200)));
        }
        return new Raw("bad-headers", "POST", "/v1/sync", headers, body, body.length);
    }

    private Raw badPath() {
        String route = ROUTES[random.nextInt(ROUTES.length)];
        String junk = JUNK_SEGMENTS[random.nextInt(JUNK_SEGMENTS.length)];
        String path =
                route.endsWith("/") ? route + junk + (random.nextBoolean() ? "/" + junk : "") : route + "/" + junk;
        String method = METHODS[random.nextInt(METHODS.length)];
        String token = path.startsWith("/v1/admin") ? adminToken : deviceToken;
        byte[] body = method.equals("GET") || method.equals("DELETE") ? new byte[0] : noise();
        List<String> headers = new ArrayList<>(List.of("Authorization: Bearer " + token));
        if (body.length > 0) {
            headers.add("Content-Type: application/json");
        }
        // A path segment no route has, so no request here is a valid call (a DELETE of an admin resource with a
        // junk id is answered 4xx and changes nothing).
        return new Raw("bad-path", method, path, headers, body, body.length);
    }

    private byte[] noise() {
        if (random.nextBoolean()) {
            return JUNK_VALUES[random.nextInt(JUNK_VALUES.length)].getBytes(StandardCharsets.UTF_8);
        }
        byte[] b = new byte[random.nextInt(512)];
        random.nextBytes(b);
        return b;
    }

    private Raw badCredential() {
        String authorization = switch (random.nextInt(7)) {
            case 0 -> null;
            case 1 -> "Bearer";
            case 2 -> "Basic " + java.util.Base64.getEncoder().encodeToString("admin:admin".getBytes());
            case 3 -> "Bearer opd_" + Long.toHexString(random.nextLong());
            case 4 -> "Bearer " + "A".repeat(6000);
            case 5 -> "Bearer " + deviceToken + "x";
            default -> "bearer\t" + adminToken.substring(0, adminToken.length() - 1);
        };
        String[] targets = {"/v1/sync", "/v1/device/assignments", "/v1/admin/devices", "/v1/admin/data/farmer"};
        String path = targets[random.nextInt(targets.length)];
        boolean post = path.equals("/v1/sync") || random.nextBoolean();
        List<String> headers = new ArrayList<>();
        if (authorization != null) {
            headers.add("Authorization: " + authorization);
        }
        byte[] body = post ? binaryPush : new byte[0];
        if (post) {
            headers.add("Content-Type: application/vnd.outpost.v1+cbor");
        }
        return new Raw("bad-credential", post ? "POST" : "GET", path, headers, body, body.length);
    }

    private Raw truncated() {
        byte[] body = random.nextBoolean() ? binaryPush : jsonPush.getBytes(StandardCharsets.UTF_8);
        int sent = random.nextInt(body.length);
        Raw r = sync(
                "truncated",
                java.util.Arrays.copyOf(body, sent),
                body == binaryPush ? "application/vnd.outpost.v1+cbor" : "application/json");
        return new Raw(r.kind(), r.method(), r.path(), r.headers(), r.body(), body.length + random.nextInt(1000));
    }

    private Raw oversized() {
        if (random.nextBoolean()) {
            // A gzip body that inflates past the payload limit (a zip bomb, a small one).
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (GZIPOutputStream z = new GZIPOutputStream(out)) {
                byte[] zeros = new byte[64 * 1024];
                for (long n = 0; n < payloadBytesMax + 65536L; n += zeros.length) {
                    z.write(zeros);
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            byte[] body = out.toByteArray();
            return new Raw(
                    "oversized-gzip",
                    "POST",
                    "/v1/sync",
                    List.of(
                            "Authorization: Bearer " + deviceToken,
                            "Content-Type: application/vnd.outpost.v1+cbor",
                            "Content-Encoding: gzip"),
                    body,
                    body.length);
        }
        byte[] body = new byte[payloadBytesMax + 1 + random.nextInt(1024)];
        random.nextBytes(body);
        return sync("oversized", body, "application/vnd.outpost.v1+cbor");
    }

    private String pickOf(String... options) {
        return options[random.nextInt(options.length)];
    }

    /**
     * Why {@code a} is not a clean refusal of {@code r}, or null when it is: a 4xx problem answer (JSON with a
     * {@code code}, no Java names); for a body that ends before its declared length, the connection closed; for a
     * request that is not valid HTTP (a path with characters a URI may not hold, a request line too long), the HTTP
     * layer's bare 400 or 414, before any route.
     */
    public static String judge(Raw r, Answer a) {
        if (a.status() == -1) {
            return r.kind().equals("truncated") ? null : "no answer";
        }
        if (a.status() < 400 || a.status() >= 500) {
            return "status " + a.status();
        }
        if ((a.status() == 400 || a.status() == 414 || a.status() == 431)
                && a.contentType().isEmpty()
                && a.body().isEmpty()) {
            return null; // refused by the HTTP layer: not a request any route saw
        }
        if (!a.contentType().startsWith("application/problem+json")) {
            return "not a problem answer (" + a.contentType() + ")";
        }
        if (!a.body().contains("\"code\"")
                || a.body().contains("Exception")
                || a.body().contains("dev.outpost")) {
            return "problem body without a code, or naming Java";
        }
        return null;
    }

    /** Sends {@code r} on a new connection and reads the answer (status -1: closed without one). */
    public static Answer send(String host, int port, Raw r) throws IOException {
        try (Socket s = new Socket(host, port)) {
            s.setSoTimeout(30_000);
            StringBuilder head = new StringBuilder(r.method() + " " + r.path() + " HTTP/1.1\r\n");
            head.append("Host: ").append(host).append(':').append(port).append("\r\n");
            for (String h : r.headers()) {
                head.append(h).append("\r\n");
            }
            if (r.declaredLength() > 0 || !r.method().equals("GET")) {
                head.append("Content-Length: ").append(r.declaredLength()).append("\r\n");
            }
            head.append("Connection: close\r\n\r\n");
            OutputStream out = s.getOutputStream();
            try {
                out.write(head.toString().getBytes(StandardCharsets.UTF_8));
                out.write(r.body());
                out.flush();
                if (r.declaredLength() > r.body().length) {
                    s.shutdownOutput(); // the body ends before its declared length
                }
            } catch (IOException refusedMidway) {
                // the server answered and closed before taking the whole body: read what it said
            }
            return read(s.getInputStream());
        }
    }

    private static Answer read(InputStream in) throws IOException {
        byte[] all;
        try {
            all = in.readAllBytes();
        } catch (java.net.SocketException reset) {
            all = new byte[0];
        }
        String text = new String(all, StandardCharsets.UTF_8);
        int split = text.indexOf("\r\n\r\n");
        if (!text.startsWith("HTTP/1.") || split < 0) {
            return new Answer(-1, "", text);
        }
        String[] lines = text.substring(0, split).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        String type = "";
        boolean chunked = false;
        for (String l : lines) {
            String lower = l.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-type:")) {
                type = l.substring(13).strip();
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        String body = text.substring(split + 4);
        return new Answer(status, type, chunked ? dechunk(body) : body);
    }

    private static String dechunk(String body) {
        StringBuilder out = new StringBuilder();
        int at = 0;
        while (at < body.length()) {
            int eol = body.indexOf("\r\n", at);
            if (eol < 0) {
                break;
            }
            int size = Integer.parseInt(body.substring(at, eol).split(";")[0].strip(), 16);
            if (size == 0) {
                break;
            }
            out.append(body, eol + 2, Math.min(body.length(), eol + 2 + size));
            at = eol + 2 + size + 2;
        }
        return out.toString();
    }
}
