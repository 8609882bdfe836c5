package dev.outpost.sync.admin;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.sync.SyncService;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Lists conflicts and resolves them. A resolution is a change stamped by the server's clock and applied through the
 * same path as a device's batch, so it lands in the feed and reaches every device like any other change.
 */
@ApplicationScoped
public class ConflictService {
    private final Pool pool;
    private final SyncService sync;
    private final SchemaRegistry schemas;
    private final RowStateCodec rows;

    public ConflictService(Pool pool, SyncService sync, SchemaRegistry schemas) {
        this.pool = pool;
        this.sync = sync;
        this.schemas = schemas;
        this.rows = new RowStateCodec(schemas.current());
    }

    /** A stored conflict. {@code candidates} is JSON (the wire form of conflicts, one element). */
    public record ConflictRecord(
            long id,
            String table,
            String rowId,
            String field,
            String kind,
            String scope,
            String status,
            String candidates,
            OffsetDateTime openedAt,
            OffsetDateTime resolvedAt,
            String resolvedBy) {}

    /**
     * Newest first; {@code status}, {@code scope} and {@code scopes} (a supervisor's: any of them) narrow the list when
     * not null.
     */
    public Uni<List<ConflictRecord>> find(String status, String scope, List<String> scopes, int limit) {
        return pool.preparedQuery("select * from conflict where ($1::text is null or status = $1)"
                        + " and ($3::text is null or scope = $3) and ($4::text[] is null or scope = any($4))"
                        + " order by id desc limit $2")
                .execute(Tuple.of(status, limit, scope, scopes == null ? null : scopes.toArray(String[]::new)))
                .map(result -> {
                    List<ConflictRecord> out = new ArrayList<>();
                    for (Row r : result) {
                        out.add(record(r));
                    }
                    return out;
                });
    }

    public Uni<ConflictRecord> get(long id) {
        return pool.preparedQuery("select * from conflict where id = $1")
                .execute(Tuple.of(id))
                .map(result -> {
                    var it = result.iterator();
                    if (!it.hasNext()) {
                        throw new Problem(ErrorCode.NOT_FOUND, "no conflict " + id);
                    }
                    return record(it.next());
                });
    }

    /** How a person settles a conflict. */
    public sealed interface Resolution {
        /** For concurrent writes to a review field: the value to keep (one of the candidates or a new one). */
        record KeepValue(String json) implements Resolution {}

        /** For a delete against an update: keep the row deleted. */
        record KeepDeleted() implements Resolution {}

        /** For a delete against an update: bring the row back with its updates. */
        record Restore() implements Resolution {}
    }

    /** Applies the resolution; answers the conflict as it stands afterwards. */
    public Uni<ConflictRecord> resolve(long id, Resolution resolution, String by) {
        return get(id).flatMap(conflict -> {
                    if (!conflict.status().equals("open")) {
                        throw new Problem(
                                ErrorCode.STALE_RESOLUTION, "conflict " + id + " is already " + conflict.status());
                    }
                    return loadRow(conflict).flatMap(row -> {
                        Change change = resolutionChange(conflict, row, resolution);
                        DeviceRecord server =
                                new DeviceRecord(SyncService.SERVER_DEVICE_ID, List.of(conflict.scope()), false);
                        String batchId = "resolve-" + id + "-" + UUID.randomUUID();
                        return sync.apply(server, batchId, List.of(change), by);
                    });
                })
                .flatMap(applied -> get(id));
    }

    private Change resolutionChange(ConflictRecord conflict, RowState row, Resolution resolution) {
        var table = schemas.current().table(conflict.table());
        boolean stillOpen = RowConflicts.of(table, row).stream()
                .anyMatch(c -> c.kind().key().equals(conflict.kind())
                        && (c.field() == null ? "" : c.field()).equals(conflict.field()));
        if (!stillOpen) {
            throw new Problem(
                    ErrorCode.STALE_RESOLUTION, "conflict " + conflict.id() + " was settled by another change");
        }
        boolean deleteConflict = conflict.kind().equals(Conflict.Kind.DELETE_VS_UPDATE.key());
        return switch (resolution) {
            case Resolution.KeepValue v -> {
                if (deleteConflict) {
                    throw new Problem(
                            ErrorCode.OPERATION_NOT_ALLOWED,
                            "a delete-vs-update conflict is resolved with action keep-deleted or restore");
                }
                FieldValue value = schemas.codec().decodeValue(conflict.table(), conflict.field(), v.json());
                yield LocalWrites.resolve(row, conflict.field(), value, sync.serverNowAfter(row));
            }
            case Resolution.KeepDeleted k -> {
                if (!deleteConflict) {
                    throw new Problem(
                            ErrorCode.OPERATION_NOT_ALLOWED, "a concurrent-writes conflict is resolved with a value");
                }
                yield LocalWrites.delete(row, sync.serverNowAfter(row));
            }
            case Resolution.Restore r -> {
                if (!deleteConflict) {
                    throw new Problem(
                            ErrorCode.OPERATION_NOT_ALLOWED, "a concurrent-writes conflict is resolved with a value");
                }
                yield LocalWrites.restore(row, sync.serverNowAfter(row));
            }
        };
    }

    private Uni<RowState> loadRow(ConflictRecord c) {
        return pool.preparedQuery("select scope, state from row_state where tbl = $1 and id = $2")
                .execute(Tuple.of(c.table(), c.rowId()))
                .map(result -> {
                    Row r = result.iterator().next();
                    return rows.decode(
                            c.table(),
                            c.rowId(),
                            r.getString("scope"),
                            r.getBuffer("state").getBytes());
                });
    }

    private static ConflictRecord record(Row r) {
        return new ConflictRecord(
                r.getLong("id"),
                r.getString("tbl"),
                r.getString("row_id"),
                r.getString("field"),
                r.getString("kind"),
                r.getString("scope"),
                r.getString("status"),
                r.getString("candidates"),
                r.getOffsetDateTime("opened_at"),
                r.getOffsetDateTime("resolved_at"),
                r.getString("resolved_by"));
    }
}
