package dev.outpost.sync.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.sync.config.PeriodicJob;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.sync.SyncService;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jboss.logging.Logger;

/**
 * Writes made with plain SQL on the typed tables become server changes (docs/data.md, "SQL writes"). The tables'
 * triggers queue each written row in {@code data_write} (old and new values); every {@link #POLL_MS} this takes the
 * queue in order, {@link #CHUNK} rows at a time, turns each row's difference into changes (an assignment per changed
 * field; a counter's difference as an increment; a set's as adds and removes; an insert of a new row; a delete), and
 * applies them as one server batch through {@link SyncService#apply}, removing the queued rows in the same
 * transaction: each queued row is applied exactly once, by one replica (another that read the same rows finds them
 * gone and rolls back). The merge then writes the typed rows as merged, as for any batch.
 */
@ApplicationScoped
public class SqlWrites {
    static final int CHUNK = 500;
    static final long POLL_MS = 200;
    private static final Logger LOG = Logger.getLogger(SqlWrites.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Pool pool;
    private final SyncService sync;
    private final SchemaRegistry schemas;
    private final RowStateCodec codec;
    private final PeriodicJob job;

    private final ServerWriteLane lane;

    public SqlWrites(Pool pool, SyncService sync, SchemaRegistry schemas, Vertx vertx, ServerWriteLane lane) {
        this.pool = pool;
        this.lane = lane;
        this.sync = sync;
        this.schemas = schemas;
        this.job = new PeriodicJob(
                vertx.getDelegate(), "applying SQL writes", java.time.Duration.ofMillis(POLL_MS), this::drain);
        this.codec = new RowStateCodec(schemas.current());
    }

    void start(@Observes StartupEvent ev) {
        job.start(false);
    }

    void stop(@Observes ShutdownEvent ev) {
        job.stop();
    }

    /** Applies queued SQL writes until the queue is empty; the rows applied. */
    public Uni<Integer> drain() {
        // In the lane: a counter written with SQL becomes an increment of this replica's contribution as read.
        return lane.run(this::once).flatMap(n -> n < CHUNK ? Uni.createFrom().item(n) : drain().map(m -> n + m));
    }

    private record Queued(long pos, String table, String id, char op, JsonNode old, JsonNode now) {}

    private Uni<Integer> once() {
        return pool.query(
                        "select pos, tbl, id, op, old::text as old, new::text as new from data_write where refused is null"
                                + " order by pos limit " + CHUNK)
                .execute()
                .flatMap(result -> {
                    List<Queued> queued = new ArrayList<>();
                    for (Row r : result) {
                        queued.add(new Queued(
                                r.getLong("pos"),
                                r.getString("tbl"),
                                r.getString("id"),
                                r.getString("op").charAt(0),
                                parse(r.getString("old")),
                                parse(r.getString("new"))));
                    }
                    if (queued.isEmpty()) {
                        return Uni.createFrom().item(0);
                    }
                    return applyOrIsolate(queued).replaceWith(queued.size());
                });
    }

    /**
     * Applies the chunk; when the service refuses it (a write its schema does not allow, say), applies its first row
     * alone, and a first row refused alone is marked refused with the reason and left in the queue for a person to
     * see. The rest go on at the next round.
     */
    private Uni<Void> applyOrIsolate(List<Queued> queued) {
        return load(queued)
                .flatMap(rows -> apply(queued, rows))
                .onFailure(dev.outpost.sync.api.Problem.class)
                .recoverWithUni(e -> {
                    Queued first = queued.getFirst();
                    if (queued.size() > 1) {
                        return applyOrIsolate(List.of(first));
                    }
                    LOG.warnf(
                            "SQL write %d (%s/%s) refused: %s", first.pos(), first.table(), first.id(), e.getMessage());
                    return pool.preparedQuery("update data_write set refused = $2 where pos = $1")
                            .execute(Tuple.of(first.pos(), e.getMessage()))
                            .replaceWithVoid();
                });
    }

    /** The stored rows the queued writes touch, by table/id. */
    private Uni<Map<String, RowState>> load(List<Queued> queued) {
        Set<String> keys = new LinkedHashSet<>();
        List<String> tables = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (Queued q : queued) {
            if (keys.add(q.table() + "/" + q.id())) {
                tables.add(q.table());
                ids.add(q.id());
            }
        }
        return pool.preparedQuery("select r.tbl, r.id, r.scope, r.state from unnest($1::text[], $2::text[]) as"
                        + " u(tbl, id) join row_state r on r.tbl = u.tbl and r.id = u.id")
                .execute(Tuple.of(tables.toArray(String[]::new), ids.toArray(String[]::new)))
                .map(result -> {
                    Map<String, RowState> out = new HashMap<>();
                    for (Row r : result) {
                        out.put(
                                r.getString("tbl") + "/" + r.getString("id"),
                                codec.decode(
                                        r.getString("tbl"),
                                        r.getString("id"),
                                        r.getString("scope"),
                                        r.getBuffer("state").getBytes()));
                    }
                    return out;
                });
    }

    private Uni<Void> apply(List<Queued> queued, Map<String, RowState> rows) {
        Schema schema = schemas.current();
        List<Change> changes = new ArrayList<>();
        Set<String> scopes = new TreeSet<>();
        for (Queued q : queued) {
            Table table = schema.getTable(q.table()).orElse(null);
            if (table == null) {
                LOG.warnf("SQL write to %s/%s skipped: the table is not in the current schema", q.table(), q.id());
                continue;
            }
            String key = q.table() + "/" + q.id();
            Written w = changesOf(schema, table, q, rows.get(key));
            for (Change c : w.changes()) {
                changes.add(c);
                scopes.add(c.scope());
            }
            if (w.after() != null) {
                rows.put(key, w.after()); // the next queued write of the row builds on this one
            }
        }
        long first = queued.getFirst().pos();
        long last = queued.getLast().pos();
        Long[] positions = queued.stream().map(Queued::pos).toArray(Long[]::new);
        DeviceRecord server = new DeviceRecord(SyncService.SERVER_DEVICE_ID, List.copyOf(scopes), false);
        return sync.apply(
                        server,
                        "sql-" + first + "-" + last,
                        changes,
                        "sql",
                        tx -> tx.preparedQuery("delete from data_write where pos = any($1)")
                                .execute(Tuple.of(positions))
                                .map(deleted -> {
                                    if (deleted.rowCount() != queued.size()) {
                                        throw new IllegalStateException("queued SQL writes " + first + "-" + last
                                                + " were taken by another replica");
                                    }
                                    return null;
                                })
                                .replaceWithVoid())
                .replaceWithVoid();
    }

    /** A queued write's changes, and the row with them merged (null when nothing was stored or written). */
    private record Written(List<Change> changes, RowState after) {}

    /** The changes that bring the row from what the service holds to what the SQL statement wrote. */
    private Written changesOf(Schema schema, Table table, Queued q, RowState stored) {
        List<Change> out = new ArrayList<>();
        boolean live = stored != null && !RowConflicts.isDeleted(table, stored);
        if (q.op() == 'D') {
            if (!live) {
                return new Written(out, stored);
            }
            Change delete = LocalWrites.delete(stored, sync.serverNowAfter(stored));
            out.add(delete);
            return new Written(out, RowMerge.apply(table, stored, delete).row());
        }
        String scope = q.now().get(schema.scopeColumn()).asText();
        RowState row = stored != null ? stored : RowState.empty(q.table(), q.id(), scope);
        if (stored != null && !live) {
            Change restore = LocalWrites.restore(row, sync.serverNowAfter(row));
            out.add(restore);
            row = RowMerge.apply(table, row, restore).row();
        }
        JsonNode before = q.op() == 'U' ? q.old() : null;
        for (Column c : table.columns().values()) {
            JsonNode was = before == null ? null : before.get(c.name());
            JsonNode now = q.now().get(c.name());
            if (isNull(was) && isNull(now) || (was != null && was.equals(now))) {
                continue;
            }
            List<Change> field = new ArrayList<>();
            if (c.merge() == MergePolicy.COUNTER) {
                long delta = (isNull(now) ? 0 : now.asLong()) - (isNull(was) ? 0 : was.asLong());
                if (delta != 0) {
                    field.add(LocalWrites.increment(row, c.name(), delta, sync.serverNowAfter(row)));
                }
            } else if (c.merge() == MergePolicy.SET) {
                Set<String> had = elements(was);
                Set<String> has = elements(now);
                for (String e : has) {
                    if (!had.contains(e)) {
                        field.add(LocalWrites.addElement(row, c.name(), e, sync.serverNowAfter(row)));
                    }
                }
                for (String e : had) {
                    if (!has.contains(e)) {
                        field.add(LocalWrites.removeElement(row, c.name(), e, sync.serverNowAfter(row)));
                    }
                }
            } else {
                FieldValue v = isNull(now)
                        ? new FieldValue.Null()
                        : schemas.codec().decodeValue(q.table(), c.name(), now.toString());
                field.add(LocalWrites.assign(row, c.name(), v, sync.serverNowAfter(row)));
            }
            for (Change ch : field) {
                out.add(ch);
                row = RowMerge.apply(table, row, ch).row();
            }
        }
        return new Written(out, row);
    }

    private static boolean isNull(JsonNode n) {
        return n == null || n.isNull();
    }

    private static Set<String> elements(JsonNode array) {
        Set<String> out = new TreeSet<>();
        if (array != null && array.isArray()) {
            array.forEach(e -> out.add(e.asText()));
        }
        return out;
    }

    private static JsonNode parse(String json) {
        try {
            return json == null ? null : JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("a queued SQL write is not JSON: " + e.getMessage(), e);
        }
    }
}
