package dev.outpost.device.run;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.render.Json;
import dev.outpost.device.rows.RowChanges;
import dev.outpost.device.rows.Rows;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The command line's operations as JSON over HTTP on 127.0.0.1, for apps on the device (docs in device-runtime
 * README): {@code GET|PUT|DELETE /v1/rows/TABLE/ID}, {@code GET /v1/rows/TABLE}, {@code POST
 * /v1/rows/TABLE/ID/add} {@code {"field","n"}}, {@code POST /v1/rows/TABLE/ID/tag} {@code {"field","edits"}},
 * {@code POST /v1/sync}, {@code GET /v1/status}, {@code GET /v1/conflicts}, {@code GET /v1/refused}, {@code POST
 * /v1/refused/SEQ/retry}, {@code DELETE /v1/refused/SEQ}, {@code POST /v1/query}, {@code GET
 * /v1/changes?after=SEQ&table=T&limit=N&wait=SECONDS} (a long poll). Errors: {@code {"error", "exitCode"}} with the status of
 * {@link ExitCode#httpStatus}: 400 (bad input), 404, 502 (server unreachable or refused) or 500.
 *
 * <p>Only apps on the device that can read the home's token may call it, and no web page the officer opens can: every
 * request must name this address in {@code Host} (a DNS-rebound name is refused: 403), carry no foreign {@code Origin}
 * (403), bring the token as {@code Authorization: Bearer} (401), and a POST or PUT must declare a JSON body (415), which
 * a browser will not send cross-origin without a preflight this server never answers.
 */
public final class LocalApi {
    private static final JsonFactory JSON = new JsonFactory();
    private static final int BODY_BYTES_MAX = 1 << 20;

    private final HttpServer server;
    /**
     * A virtual thread per request: a changes read may wait up to a minute, and a few apps waiting must not hold up
     * the rest (the database's lock still takes them one at a time).
     */
    private final ExecutorService handlers = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("outpost-api-", 0).factory());

    private final OutpostDevice device;
    private final SyncWorker worker;
    private final ModelWorker models;
    private final byte[] token;

    public LocalApi(OutpostDevice device, SyncWorker worker, ModelWorker models, int port) throws IOException {
        this.device = device;
        this.worker = worker;
        this.models = models;
        this.token = device.home().apiToken().getBytes(StandardCharsets.UTF_8);
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        server.setExecutor(handlers);
        server.createContext("/v1/", this::handle);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public void start() {
        server.start();
    }

    /** Stops taking requests, lets those in progress finish (1 s at most), and ends the handler threads. */
    public void stop() {
        server.stop(1);
        handlers.shutdown();
    }

    /** Why the request may not be served (status and message), or null when it may. */
    private Refusal refusal(HttpExchange x) {
        String host = x.getRequestHeaders().getFirst("Host");
        if (host == null || !isThisAddress(host)) {
            return new Refusal(403, "Host '" + host + "' is not this device's local API (127.0.0.1:" + port() + ")");
        }
        String origin = x.getRequestHeaders().getFirst("Origin");
        if (origin != null && !isThisAddress(origin.replaceFirst("^https?://", ""))) {
            return new Refusal(403, "requests from web pages (Origin '" + origin + "') are refused");
        }
        String authorization = x.getRequestHeaders().getFirst("Authorization");
        byte[] given = authorization != null && authorization.startsWith("Bearer ")
                ? authorization.substring("Bearer ".length()).trim().getBytes(StandardCharsets.UTF_8)
                : new byte[0];
        if (!java.security.MessageDigest.isEqual(given, token)) {
            return new Refusal(
                    401,
                    (authorization == null ? "missing" : "wrong")
                            + " token: send 'Authorization: Bearer ' and the contents of the home's "
                            + dev.outpost.device.home.DeviceHome.API_TOKEN_FILE + " file");
        }
        String method = x.getRequestMethod();
        if (method.equals("POST") || method.equals("PUT") || method.equals("PATCH")) {
            String type = x.getRequestHeaders().getFirst("Content-Type");
            String mediaType = type == null ? "" : type.split(";")[0].trim().toLowerCase(java.util.Locale.ROOT);
            if (!mediaType.equals("application/json")) {
                return new Refusal(
                        415, method + " takes a JSON body: 'Content-Type: application/json' (was '" + type + "')");
            }
        }
        return null;
    }

    private record Refusal(int status, String message) {}

    /** Whether {@code hostPort} (a Host header, or an Origin without its scheme) names this server's address. */
    private boolean isThisAddress(String hostPort) {
        String h = hostPort.trim().toLowerCase(java.util.Locale.ROOT);
        for (String name : List.of("127.0.0.1", "localhost", "[::1]")) {
            if (h.equals(name + ":" + port())) {
                return true;
            }
        }
        return false;
    }

    private void handle(HttpExchange x) throws IOException {
        try {
            Refusal refused = refusal(x);
            if (refused != null) {
                if (refused.status() == 401) {
                    x.getResponseHeaders().set("WWW-Authenticate", "Bearer");
                }
                reply(x, refused.status(), Json.error(refused.message(), ExitCode.BAD_INPUT));
                return;
            }
            String[] p = x.getRequestURI().getPath().split("/");
            String method = x.getRequestMethod();
            // p[0] = "", p[1] = "v1"
            String body;
            int status = 200;
            Rows rows = device.rows();
            String scope = device.schema().scopeColumn();
            if (p.length == 3 && p[2].equals("status") && method.equals("GET")) {
                body = Json.status(device.status(), device.codec(), null, worker.lastOutcome(), models.lastOutcome());
            } else if (p.length == 3 && p[2].equals("model") && method.equals("GET")) {
                body = device.models().statusJson();
            } else if (p.length == 3 && p[2].equals("conflicts") && method.equals("GET")) {
                body = Json.conflicts(rows.conflicts());
            } else if (p.length == 3 && p[2].equals("sync") && method.equals("POST")) {
                body = Json.syncResult(device.sync(), device.schema().version());
            } else if (p.length == 3 && p[2].equals("query") && method.equals("POST")) {
                Map<String, String> args = fields(read(x));
                String sql = unquote(args.get("sql"), "sql");
                List<String> params = args.containsKey("params") ? strings(args.get("params"), "params") : List.of();
                body = Json.queryRows(rows.query(sql, params));
            } else if (p.length == 3 && p[2].equals("changes") && method.equals("GET")) {
                body = Json.changes(changes(rows, x.getRequestURI().getRawQuery()), scope);
            } else if (p.length == 3 && p[2].equals("refused") && method.equals("GET")) {
                body = Json.refused(rows.refused(), device.codec());
            } else if (p.length == 4 && p[2].equals("refused") && method.equals("DELETE")) {
                rows.discard(seq(p[3]));
                body = Json.object("discarded", true);
            } else if (p.length == 5 && p[2].equals("refused") && p[4].equals("retry") && method.equals("POST")) {
                rows.retry(seq(p[3]));
                worker.nudge();
                body = Json.object("queued", true);
            } else if (p.length == 4 && p[2].equals("rows") && method.equals("GET")) {
                String query = x.getRequestURI().getRawQuery();
                body = Json.rows(
                        query == null || query.isEmpty() ? rows.list(p[3]) : rows.find(p[3], selection(query)), scope);
            } else if (p.length == 5 && p[2].equals("rows")) {
                switch (method) {
                    case "GET" ->
                        body = Json.row(
                                rows.get(p[3], p[4]).orElseThrow(() -> new NotFound("no " + p[3] + "/" + p[4])), scope);
                    case "PUT" -> {
                        rows.put(p[3], p[4], fields(read(x)));
                        worker.nudge();
                        body = Json.row(rows.get(p[3], p[4]).orElseThrow(), scope);
                    }
                    case "DELETE" -> {
                        rows.delete(p[3], p[4]);
                        worker.nudge();
                        body = Json.object("deleted", true);
                    }
                    default -> throw new NotFound("no such operation");
                }
            } else if (p.length == 6
                    && p[2].equals("rows")
                    && method.equals("POST")
                    && (p[5].equals("add") || p[5].equals("tag"))) {
                Map<String, String> args = fields(read(x));
                String field = unquote(args.get("field"), "field");
                if (p[5].equals("add")) {
                    rows.add(p[3], p[4], field, Long.parseLong(args.getOrDefault("n", "x")));
                } else {
                    rows.tag(p[3], p[4], field, strings(args.get("edits"), "edits"));
                }
                worker.nudge();
                body = Json.row(rows.get(p[3], p[4]).orElseThrow(), scope);
            } else {
                throw new NotFound("no such resource");
            }
            reply(x, status, body);
        } catch (NotFound e) {
            reply(x, 404, Json.error(e.getMessage(), ExitCode.BAD_INPUT));
        } catch (DeviceException e) {
            reply(x, e.exitCode().httpStatus(), Json.error(e.getMessage(), e.exitCode()));
        } catch (NumberFormatException | IOException e) {
            reply(x, 400, Json.error("malformed request body", ExitCode.BAD_INPUT));
        } catch (RuntimeException e) {
            // Anything else is a fault of this device's own: said, not hidden, and the server keeps serving.
            reply(x, 500, Json.error("unexpected failure: " + e, ExitCode.STORAGE));
        } finally {
            x.close();
        }
    }

    private static final class NotFound extends RuntimeException {
        NotFound(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * {@code FIELD=VALUE&...&order=F&desc=true&limit=N&after=ID} as a {@link Rows.Selection}: the four names are the
     * options, every other parameter a filter (a field named like an option cannot be filtered on here).
     */
    private static Rows.Selection selection(String rawQuery) {
        Map<String, String> where = new LinkedHashMap<>();
        String order = null;
        boolean desc = false;
        int limit = Rows.LIST_LIMIT_DEFAULT;
        String after = null;
        for (Map.Entry<String, String> p : parameters(rawQuery).entrySet()) {
            String name = p.getKey();
            String value = p.getValue();
            switch (name) {
                case "order" -> order = value;
                case "desc" -> desc = Boolean.parseBoolean(value);
                case "limit" -> limit = Integer.parseInt(value);
                case "after" -> after = value;
                default -> where.put(name, value);
            }
        }
        return new Rows.Selection(where, order, desc, limit, after);
    }

    /** {@code after=SEQ&table=T&limit=N&wait=SECONDS}, every one optional: the changes feed, waiting if asked. */
    private static RowChanges changes(Rows rows, String rawQuery) {
        long after = 0;
        String table = null;
        int limit = Rows.LIST_LIMIT_DEFAULT;
        long waitS = 0;
        for (Map.Entry<String, String> e : parameters(rawQuery).entrySet()) {
            try {
                switch (e.getKey()) {
                    case "after" -> after = Long.parseLong(e.getValue());
                    case "table" -> table = e.getValue();
                    case "limit" -> limit = Integer.parseInt(e.getValue());
                    case "wait" -> waitS = Long.parseLong(e.getValue());
                    default ->
                        throw new DeviceException(
                                ExitCode.BAD_INPUT,
                                "unknown parameter '" + e.getKey() + "' (after, table, limit, wait)");
                }
            } catch (NumberFormatException bad) {
                throw new DeviceException(ExitCode.BAD_INPUT, e.getKey() + " must be a whole number");
            }
        }
        if (waitS < 0 || waitS > Rows.CHANGES_WAIT_MAX_S) {
            throw new DeviceException(ExitCode.BAD_INPUT, "wait is 0 to " + Rows.CHANGES_WAIT_MAX_S + " seconds");
        }
        return rows.changes(after, table, limit, waitS * 1000);
    }

    /** A query string's parameters, decoded, in order. */
    private static Map<String, String> parameters(String rawQuery) {
        Map<String, String> out = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return out;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new DeviceException(ExitCode.BAD_INPUT, "'" + pair + "' is not NAME=VALUE");
            }
            out.put(
                    java.net.URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                    java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }

    private static long seq(String text) {
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, "'" + text + "' is not a change's seq");
        }
    }

    private static byte[] read(HttpExchange x) throws IOException {
        try (InputStream in = x.getRequestBody()) {
            byte[] b = in.readNBytes(BODY_BYTES_MAX + 1);
            if (b.length > BODY_BYTES_MAX) {
                throw new DeviceException(ExitCode.BAD_INPUT, "request body larger than " + BODY_BYTES_MAX + " bytes");
            }
            return b;
        }
    }

    /** A JSON object's members as raw JSON text (so values keep their JSON types). */
    private static Map<String, String> fields(byte[] body) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new DeviceException(ExitCode.BAD_INPUT, "the body must be a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                StringWriter w = new StringWriter();
                try (JsonGenerator g = JSON.createGenerator(w)) {
                    g.copyCurrentStructure(p);
                }
                out.put(name, w.toString());
            }
        }
        return out;
    }

    /** The JSON string {@code json} (a member's raw text), named {@code member} in the error when it is not one. */
    private static String unquote(String json, String member) throws IOException {
        if (json == null) {
            throw new DeviceException(ExitCode.BAD_INPUT, "missing \"" + member + "\"");
        }
        try (JsonParser p = JSON.createParser(json)) {
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new DeviceException(ExitCode.BAD_INPUT, "\"" + member + "\" must be a string");
            }
            return p.getText();
        }
    }

    /** The strings of the JSON array {@code json}; scalars other than strings are taken as their text. */
    private static List<String> strings(String json, String member) throws IOException {
        List<String> out = new ArrayList<>();
        if (json == null) {
            throw new DeviceException(ExitCode.BAD_INPUT, "missing \"" + member + "\"");
        }
        try (JsonParser p = JSON.createParser(json)) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new DeviceException(ExitCode.BAD_INPUT, "\"" + member + "\" must be an array");
            }
            for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                if (t == null || t.isStructStart()) {
                    throw new DeviceException(ExitCode.BAD_INPUT, "\"" + member + "\" must hold strings or numbers");
                }
                out.add(p.getText());
            }
        }
        return out;
    }

    private static void reply(HttpExchange x, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", "application/json");
        x.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(bytes);
        }
    }
}
