package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.ErrorCode;
import dev.outpost.sync.admin.DataService;
import dev.outpost.sync.auth.CurrentOperator;
import dev.outpost.sync.auth.Operator;
import dev.outpost.sync.store.DataTables;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.io.IOException;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The field's data at the office (docs/data.md), admin credential: {@code GET /v1/admin/data/{table}} (filters,
 * keyset paging, JSON or CSV), {@code GET|PUT|PATCH|DELETE /v1/admin/data/{table}/{id}}, {@code POST
 * .../{id}/add} and {@code .../{id}/tag}, {@code POST /v1/admin/data/rebuild}.
 */
@Path("/v1/admin/data")
@Produces(MediaType.APPLICATION_JSON)
public class AdminDataResource {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CSV = "text/csv";

    private final DataTables data;
    private final DataService service;
    private final Pool pool;
    private final CurrentOperator current;

    public AdminDataResource(DataTables data, DataService service, Pool pool, CurrentOperator current) {
        this.data = data;
        this.service = service;
        this.pool = pool;
        this.current = current;
    }

    /**
     * The tables the office can browse: the current schema in its JSON form (tables, their columns with type, merge
     * policy, target, index), with the typed tables' PostgreSQL schema.
     */
    @GET
    public Map<String, Object> tables() throws IOException {
        return Map.of("dataSchema", data.dataSchema(), "schema", JSON.readTree(service.schemaJson()));
    }

    /**
     * Makes the typed tables again from the row states, in one transaction (queries meanwhile see the old content):
     * after a restore, or to check them. {@code {"schema": "outpost_data", "rows": N}}.
     */
    @POST
    @Path("/rebuild")
    public Uni<Map<String, Object>> rebuild() {
        return data.rebuild(pool).map(rows -> Map.of("schema", data.dataSchema(), "rows", rows));
    }

    /**
     * Rows by id: {@code ?FIELD=VALUE} (repeatable over fields; a set field matches rows holding the element; the
     * scope column too), {@code changedSince=ISO-8601}, {@code after=ID} (the last id of the page before),
     * {@code limit=N} (default 100, at most 10,000). JSON array, or CSV for {@code Accept: text/csv}.
     */
    @GET
    @Path("/{table}")
    @Produces({MediaType.APPLICATION_JSON, CSV})
    public Uni<Response> list(
            @HeaderParam(HttpHeaders.ACCEPT) String accept, @PathParam("table") String table, @Context UriInfo uri) {
        Map<String, String> where = new LinkedHashMap<>();
        OffsetDateTime since = null;
        String after = null;
        int limit = DataService.LIMIT_DEFAULT;
        for (var e : uri.getQueryParameters().entrySet()) {
            if (e.getValue().size() != 1) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "'" + e.getKey() + "' is given more than once");
            }
            String v = e.getValue().getFirst();
            switch (e.getKey()) {
                case "changedSince" -> {
                    try {
                        since = OffsetDateTime.parse(v);
                    } catch (DateTimeParseException bad) {
                        throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "changedSince is an ISO-8601 time with offset");
                    }
                }
                case "after" -> after = v;
                case "limit" -> {
                    try {
                        limit = Integer.parseInt(v);
                    } catch (NumberFormatException bad) {
                        throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "limit is a number");
                    }
                }
                default -> where.put(e.getKey(), v);
            }
        }
        boolean csv = accept != null && accept.contains(CSV) && !accept.contains(MediaType.APPLICATION_JSON);
        return service.list(
                        table,
                        new DataService.Selection(
                                where, since, after, limit, current.get().scopeLimit()))
                .map(rows -> csv
                        ? Response.ok(csv(rows), CSV + "; charset=utf-8")
                                .header("Content-Disposition", "attachment; filename=\"" + table + ".csv\"")
                                .build()
                        : Response.ok(rows, MediaType.APPLICATION_JSON).build());
    }

    /** One row: {@code {"table", "id", scope, "fields": {name: {"value", "clock", "device"}}, "conflicts"}}. */
    @GET
    @Path("/{table}/{id}")
    public Uni<Map<String, Object>> read(@PathParam("table") String table, @PathParam("id") String id) {
        return service.read(table, id, current.get());
    }

    /**
     * Creates the row, or replaces its fields (those not given are cleared): {@code {"field": value, ...}} with the
     * scope column for a new row.
     */
    @PUT
    @Path("/{table}/{id}")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> put(@PathParam("table") String table, @PathParam("id") String id, byte[] body) {
        return write(table, id, body, DataService.Mode.PUT, current.get());
    }

    /** Updates only the fields given. */
    @PATCH
    @Path("/{table}/{id}")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> patch(@PathParam("table") String table, @PathParam("id") String id, byte[] body) {
        return write(table, id, body, DataService.Mode.PATCH, current.get());
    }

    @DELETE
    @Path("/{table}/{id}")
    public Uni<Response> delete(@PathParam("table") String table, @PathParam("id") String id) {
        Operator actor = current.get();
        return service.delete(table, id, actor).map(x -> Response.noContent().build());
    }

    /** {@code {"field": "bags_harvested", "n": 3}} (and the scope column for a new row). */
    @POST
    @Path("/{table}/{id}/add")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> add(@PathParam("table") String table, @PathParam("id") String id, byte[] body) {
        Operator actor = current.get();
        JsonNode b = object(body);
        JsonNode n = b.get("n");
        if (n == null || !n.canConvertToLong() || !n.isIntegralNumber()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "n: a whole number to add (may be negative)");
        }
        return service.add(table, id, scope(b), text(b, "field"), n.asLong(), actor);
    }

    /** {@code {"field": "pests", "edits": ["+aphids", "-cutworm"]}} (and the scope column for a new row). */
    @POST
    @Path("/{table}/{id}/tag")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> tag(@PathParam("table") String table, @PathParam("id") String id, byte[] body) {
        Operator actor = current.get();
        JsonNode b = object(body);
        JsonNode edits = b.get("edits");
        if (edits == null || !edits.isArray()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "edits: an array of \"+ELEMENT\" or \"-ELEMENT\"");
        }
        List<String> list = new ArrayList<>();
        edits.forEach(e -> list.add(e.asText()));
        return service.tag(table, id, scope(b), text(b, "field"), list, actor);
    }

    private Uni<Map<String, Object>> write(
            String table, String id, byte[] body, DataService.Mode mode, Operator actor) {
        JsonNode b = object(body);
        String scopeColumn = service.scopeColumn();
        Map<String, JsonNode> values = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = b.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getKey().equals(scopeColumn) && !e.getKey().equals("id")) {
                values.put(e.getKey(), e.getValue());
            }
        }
        if (values.isEmpty() && mode == DataService.Mode.PATCH) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "no field to update");
        }
        return service.write(table, id, scope(b), values, mode, actor);
    }

    private String scope(JsonNode b) {
        JsonNode s = b.get(service.scopeColumn());
        return s == null || s.isNull() ? null : s.asText();
    }

    private static String text(JsonNode b, String member) {
        JsonNode v = b.get(member);
        if (v == null || !v.isTextual()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, member + ": a string");
        }
        return v.asText();
    }

    private static JsonNode object(byte[] body) {
        try {
            JsonNode n = body == null || body.length == 0 ? null : JSON.readTree(body);
            if (n == null || !n.isObject()) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "the body must be a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "the body is not JSON: " + e.getMessage());
        }
    }

    /** RFC 4180: a header of column names, then one line a row; arrays and objects as their JSON text. */
    static String csv(List<JsonNode> rows) {
        StringBuilder out = new StringBuilder();
        if (rows.isEmpty()) {
            return out.toString();
        }
        List<String> names = new ArrayList<>();
        rows.getFirst().fieldNames().forEachRemaining(names::add);
        out.append(String.join(",", names.stream().map(AdminDataResource::cell).toList()))
                .append("\r\n");
        for (JsonNode r : rows) {
            List<String> cells = new ArrayList<>(names.size());
            for (String n : names) {
                JsonNode v = r.get(n);
                cells.add(v == null || v.isNull() ? "" : cell(v.isValueNode() ? v.asText() : v.toString()));
            }
            out.append(String.join(",", cells)).append("\r\n");
        }
        return out.toString();
    }

    private static String cell(String v) {
        if (v.indexOf(',') < 0 && v.indexOf('"') < 0 && v.indexOf('\n') < 0 && v.indexOf('\r') < 0) {
            return v;
        }
        return "\"" + v.replace("\"", "\"\"") + "\"";
    }
}
