package dev.outpost.sync.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.RowView;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.auth.Operator;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.store.DataTables;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.sync.SyncService;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The office's reads and writes of the field's data (docs/data.md). Reads come from the typed tables (lists) and the
 * row states (one row with each field's clock and device). Writes are server-stamped changes applied through
 * {@link SyncService#apply} like any device's batch: validated by the schema, merged by its policies, fed to every
 * device in scope.
 */
@ApplicationScoped
public class DataService {
    public static final int LIMIT_DEFAULT = 100;
    public static final int LIMIT_MAX = 10_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Pool pool;
    private final SyncService sync;
    private final SchemaRegistry schemas;
    private final DataTables data;
    private final RowStateCodec rows;

    private final ServerWriteLane lane;

    public DataService(Pool pool, SyncService sync, SchemaRegistry schemas, DataTables data, ServerWriteLane lane) {
        this.pool = pool;
        this.lane = lane;
        this.sync = sync;
        this.schemas = schemas;
        this.data = data;
        this.rows = new RowStateCodec(schemas.current());
    }

    /**
     * What a list asks for: field (or scope column) equalities, rows changed since, after an id, at most limit; and
     * the scopes the asking operator is kept to (a supervisor's), null for all.
     */
    public record Selection(
            Map<String, String> where, OffsetDateTime changedSince, String after, int limit, List<String> scopes) {}

    /**
     * Rows of the typed table, by id: each as its JSON object (columns by name, PostgreSQL's JSON of each value),
     * columns in table order.
     */
    public Uni<List<JsonNode>> list(String tableName, Selection s) {
        Schema schema = schemas.current();
        Table table = table(tableName);
        if (s.limit() < 1 || s.limit() > LIMIT_MAX) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "limit is 1-" + LIMIT_MAX);
        }
        StringBuilder sql =
                new StringBuilder("select to_jsonb(t)::text as j from " + data.table(tableName) + " t" + " where true");
        Tuple args = Tuple.tuple();
        for (var e : s.where().entrySet()) {
            String field = e.getKey();
            args.addString(e.getValue());
            String p = "$" + args.size();
            if (field.equals(schema.scopeColumn()) || field.equals("id")) {
                sql.append(" and ")
                        .append(DataTables.quote(field))
                        .append(" = ")
                        .append(p);
                continue;
            }
            Column c = table.getColumn(field)
                    .orElseThrow(() ->
                            new Problem(ErrorCode.UNKNOWN_FIELD, "unknown field '" + tableName + "." + field + "'"));
            if (c.type() == ColumnType.SET) {
                sql.append(" and ")
                        .append(p)
                        .append(" = any(")
                        .append(DataTables.quote(field))
                        .append(')');
            } else if (c.type() == ColumnType.JSON) {
                sql.append(" and ")
                        .append(DataTables.quote(field))
                        .append(" = ")
                        .append(p)
                        .append("::jsonb");
            } else {
                checkValue(tableName, c, e.getValue());
                sql.append(" and ")
                        .append(DataTables.quote(field))
                        .append(" = ")
                        .append(p)
                        .append("::")
                        .append(DataTables.sqlType(c));
            }
        }
        if (s.changedSince() != null) {
            args.addOffsetDateTime(s.changedSince());
            sql.append(" and _changed_at > $").append(args.size());
        }
        if (s.after() != null) {
            args.addString(s.after());
            sql.append(" and id > $").append(args.size());
        }
        if (s.scopes() != null) {
            args.addArrayOfString(s.scopes().toArray(String[]::new));
            sql.append(" and ")
                    .append(DataTables.quote(schema.scopeColumn()))
                    .append(" = any($")
                    .append(args.size())
                    .append(')');
        }
        sql.append(" order by id limit ").append(s.limit());
        return pool.preparedQuery(sql.toString()).execute(args).map(result -> {
            List<JsonNode> out = new ArrayList<>(result.size());
            for (Row r : result) {
                out.add(ordered(table, parse(r.getString("j"))));
            }
            return out;
        });
    }

    /** A filter's value must read as its column's type: a bad one is a 400, not a database error. */
    private void checkValue(String tableName, Column c, String text) {
        if (c.type() == ColumnType.TEXT || c.type() == ColumnType.REF) {
            return;
        }
        String json = c.type() == ColumnType.DATE || c.type() == ColumnType.TIMESTAMP ? quoteJson(text) : text;
        try {
            schemas.codec().decodeValue(tableName, c.name(), json);
        } catch (OutpostException e) {
            throw new Problem(
                    ErrorCode.TYPE_MISMATCH,
                    "'" + text + "' is not a " + c.type().key() + " for '" + tableName + "." + c.name() + "'");
        }
    }

    /** The columns of a typed row in table order: id, the scope column, the fields, then the bookkeeping. */
    private JsonNode ordered(Table table, JsonNode row) {
        var out = JSON.createObjectNode();
        out.set("id", row.get("id"));
        String scope = schemas.current().scopeColumn();
        out.set(scope, row.get(scope));
        for (String f : table.columns().keySet()) {
            out.set(f, row.get(f));
        }
        out.set("_changed_at", row.get("_changed_at"));
        out.set("_conflicts", row.get("_conflicts"));
        return out;
    }

    /** One row with each field's value, clock and device, and its open conflicts; 404 when absent or deleted. */
    public Uni<Map<String, Object>> read(String tableName, String id, Operator by) {
        Table table = table(tableName);
        return load(tableName, id).map(found -> {
            RowState row = found.filter(r -> !RowConflicts.isDeleted(table, r))
                    .orElseThrow(() -> new Problem(ErrorCode.NOT_FOUND, "no " + tableName + "/" + id));
            by.requireScope(row.scope());
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("table", tableName);
            out.put("id", id);
            out.put(schemas.current().scopeColumn(), row.scope());
            Map<String, Object> fields = new LinkedHashMap<>();
            for (Column c : table.columns().values()) {
                FieldState f = row.field(c.name());
                Map<String, Object> field = new LinkedHashMap<>();
                field.put("value", f == null ? defaultValue(c) : json(WireCodec.encodeValue(RowView.valueOf(f))));
                var clock = f == null ? null : f instanceof FieldState.MultiValue m ? m.winnerClock() : f.clock();
                field.put("clock", clock == null ? null : clock.toString());
                field.put("device", clock == null ? null : clock.deviceId());
                fields.put(c.name(), field);
            }
            out.put("fields", fields);
            List<Map<String, Object>> conflicts = new ArrayList<>();
            for (Conflict c : RowConflicts.of(table, row)) {
                conflicts.add(Map.of(
                        "kind", c.kind().key(),
                        "field", c.field() == null ? "" : c.field(),
                        "candidates",
                                json(schemas.codec().encodeConflicts(List.of(c)))
                                        .get(0)
                                        .get("candidates")));
            }
            out.put("conflicts", conflicts);
            return out;
        });
    }

    private static Object defaultValue(Column c) {
        return c.merge() == MergePolicy.SET
                ? JSON.createArrayNode()
                : c.merge() == MergePolicy.COUNTER ? (Object) 0 : null;
    }

    /** How a write treats the fields it does not name: a create or replace clears them, an update leaves them. */
    public enum Mode {
        PUT,
        PATCH
    }

    /**
     * Writes fields of a row as server changes: {@code values} are JSON values as a device would put them. A
     * counter or a set is refused here (they have their own operations); a new row needs its scope; a row never
     * changes scope. Answers the row as {@link #read} shows it.
     */
    public Uni<Map<String, Object>> write(
            String tableName, String id, String scope, Map<String, JsonNode> values, Mode mode, Operator by) {
        Table table = table(tableName);
        if (!ChangeValidator.isRowId(id)) {
            throw new Problem(ErrorCode.INVALID_ID, "'" + id + "' is not a row id (1-64 letters, digits, - _ . :)");
        }
        Map<String, FieldValue> decoded = new LinkedHashMap<>();
        for (var e : values.entrySet()) {
            Column c = table.getColumn(e.getKey())
                    .orElseThrow(() -> new Problem(
                            ErrorCode.UNKNOWN_FIELD, "unknown field '" + tableName + "." + e.getKey() + "'"));
            if (c.merge() == MergePolicy.COUNTER || c.merge() == MergePolicy.SET) {
                throw new Problem(
                        ErrorCode.OPERATION_NOT_ALLOWED,
                        "'" + tableName + "." + c.name() + "' is a " + c.merge().key() + ": use the "
                                + (c.merge() == MergePolicy.COUNTER ? "add" : "tag") + " operation");
            }
            decoded.put(c.name(), decode(tableName, c.name(), e.getValue()));
        }
        return load(tableName, id).flatMap(found -> {
            boolean live = found.filter(r -> !RowConflicts.isDeleted(table, r)).isPresent();
            if (mode == Mode.PATCH && !live) {
                throw new Problem(ErrorCode.NOT_FOUND, "no " + tableName + "/" + id + " to update (PUT creates)");
            }
            RowState row = found.orElseGet(() -> RowState.empty(tableName, id, requireScope(tableName, id, scope)));
            checkScope(row, scope);
            List<Change> changes = new ArrayList<>();
            if (found.isPresent() && !live) {
                changes.add(LocalWrites.restore(row, sync.serverNowAfter(row)));
            }
            for (Column c : table.columns().values()) {
                FieldValue v = decoded.get(c.name());
                if (v == null
                        && (mode == Mode.PATCH
                                || !live
                                || c.merge() == MergePolicy.COUNTER
                                || c.merge() == MergePolicy.SET
                                || row.field(c.name()) == null)) {
                    continue;
                }
                changes.add(LocalWrites.assign(
                        row, c.name(), v == null ? new FieldValue.Null() : v, sync.serverNowAfter(row)));
            }
            return apply(row.scope(), changes, by).flatMap(x -> read(tableName, id, by));
        });
    }

    /** Adds {@code n} to a counter field (the server's own contribution), creating the row when it needs a scope. */
    public Uni<Map<String, Object>> add(String tableName, String id, String scope, String field, long n, Operator by) {
        Column c = column(tableName, field);
        if (c.merge() != MergePolicy.COUNTER) {
            throw new Problem(ErrorCode.OPERATION_NOT_ALLOWED, "'" + tableName + "." + field + "' is not a counter");
        }
        // In the lane: the new total is this replica's contribution as read, plus n (ServerWriteLane).
        return lane.run(() -> existingOrNew(tableName, id, scope)
                        .flatMap(row -> apply(
                                row.scope(),
                                List.of(LocalWrites.increment(row, field, n, sync.serverNowAfter(row))),
                                by)))
                .flatMap(x -> read(tableName, id, by));
    }

    /** Set edits {@code +element} / {@code -element} on a set field. */
    public Uni<Map<String, Object>> tag(
            String tableName, String id, String scope, String field, List<String> edits, Operator by) {
        Column c = column(tableName, field);
        if (c.merge() != MergePolicy.SET) {
            throw new Problem(ErrorCode.OPERATION_NOT_ALLOWED, "'" + tableName + "." + field + "' is not a set");
        }
        if (edits.isEmpty()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "edits: at least one of +ELEMENT or -ELEMENT");
        }
        for (String e : edits) {
            if (e.length() < 2 || (e.charAt(0) != '+' && e.charAt(0) != '-')) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "edit '" + e + "' is not +ELEMENT or -ELEMENT");
            }
        }
        return existingOrNew(tableName, id, scope).flatMap(row -> {
            List<Change> changes = new ArrayList<>();
            for (String e : edits) {
                String element = e.substring(1);
                changes.add(
                        e.charAt(0) == '+'
                                ? LocalWrites.addElement(row, field, element, sync.serverNowAfter(row))
                                : LocalWrites.removeElement(row, field, element, sync.serverNowAfter(row)));
            }
            return apply(row.scope(), changes, by).flatMap(x -> read(tableName, id, by));
        });
    }

    /** Deletes a row (a tombstone that syncs; the typed row goes). 404 when there is no live row. */
    public Uni<Void> delete(String tableName, String id, Operator by) {
        Table table = table(tableName);
        return load(tableName, id).flatMap(found -> {
            RowState row = found.filter(r -> !RowConflicts.isDeleted(table, r))
                    .orElseThrow(() -> new Problem(ErrorCode.NOT_FOUND, "no " + tableName + "/" + id));
            return apply(row.scope(), List.of(LocalWrites.delete(row, sync.serverNowAfter(row))), by)
                    .replaceWithVoid();
        });
    }

    private Uni<RowState> existingOrNew(String tableName, String id, String scope) {
        Table table = table(tableName);
        return load(tableName, id).map(found -> {
            RowState row = found.orElseGet(() -> RowState.empty(tableName, id, requireScope(tableName, id, scope)));
            checkScope(row, scope);
            if (RowConflicts.isDeleted(table, row)) {
                throw new Problem(ErrorCode.NOT_FOUND, tableName + "/" + id + " is deleted (PUT brings it back)");
            }
            return row;
        });
    }

    /** Applies office writes as server changes; a supervisor's only in their scopes (nothing is written otherwise). */
    private Uni<SyncService.Applied> apply(String scope, List<Change> changes, Operator by) {
        by.requireScope(scope);
        DeviceRecord server = new DeviceRecord(SyncService.SERVER_DEVICE_ID, List.of(scope), false);
        return sync.apply(server, "office-" + UUID.randomUUID(), changes, by.actor());
    }

    private String requireScope(String tableName, String id, String scope) {
        if (scope == null || scope.isEmpty()) {
            throw new Problem(
                    ErrorCode.MALFORMED_PAYLOAD,
                    tableName + "/" + id + " is new: give its "
                            + schemas.current().scopeColumn());
        }
        return scope;
    }

    private void checkScope(RowState row, String scope) {
        if (scope != null && !scope.isEmpty() && !scope.equals(row.scope())) {
            throw new Problem(
                    ErrorCode.SCOPE_CHANGE,
                    row.table() + "/" + row.id() + " is in scope '" + row.scope() + "'; a row never changes scope");
        }
    }

    private Uni<Optional<RowState>> load(String tableName, String id) {
        return pool.preparedQuery("select scope, state from row_state where tbl = $1 and id = $2")
                .execute(Tuple.of(tableName, id))
                .map(result -> {
                    var it = result.iterator();
                    if (!it.hasNext()) {
                        return Optional.empty();
                    }
                    Row r = it.next();
                    return Optional.of(rows.decode(
                            tableName,
                            id,
                            r.getString("scope"),
                            r.getBuffer("state").getBytes()));
                });
    }

    private FieldValue decode(String tableName, String field, JsonNode value) {
        try {
            return schemas.codec().decodeValue(tableName, field, value.toString());
        } catch (OutpostException e) {
            throw new Problem(e.code(), e.getMessage());
        }
    }

    /** The current schema in its JSON form. */
    public String schemaJson() {
        return dev.outpost.model.schema.SchemaLoader.toJson(schemas.current());
    }

    public String scopeColumn() {
        return schemas.current().scopeColumn();
    }

    public Table table(String name) {
        return schemas.current()
                .getTable(name)
                .orElseThrow(() -> new Problem(ErrorCode.UNKNOWN_TABLE, "unknown table '" + name + "'"));
    }

    private Column column(String tableName, String field) {
        return table(tableName)
                .getColumn(field)
                .orElseThrow(
                        () -> new Problem(ErrorCode.UNKNOWN_FIELD, "unknown field '" + tableName + "." + field + "'"));
    }

    private static String quoteJson(String text) {
        return dev.outpost.model.wire.JsonText.quote(text);
    }

    private static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("PostgreSQL's JSON did not parse: " + e.getMessage(), e);
        }
    }

    private static JsonNode json(String text) {
        return parse(text);
    }
}
