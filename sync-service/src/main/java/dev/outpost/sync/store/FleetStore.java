package dev.outpost.sync.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The fleet as operators see it: each device's sync state, conflicts in its scopes and model health. */
@ApplicationScoped
public class FleetStore {
    /** Changes waiting for a device are counted up to this many (a device that never synced could owe millions). */
    public static final int LAG_COUNT_MAX = 10_000;

    private final Pool pool;

    public FleetStore(Pool pool) {
        this.pool = pool;
    }

    /**
     * One device. {@code syncLagChanges}: changes in its scopes, from other devices, after the cursor it last came
     * with (at most {@link #LAG_COUNT_MAX}); {@code modelsJson}: its last report per artifact, a JSON array.
     */
    public record DeviceRow(
            String deviceId,
            List<String> scopes,
            OffsetDateTime createdAt,
            OffsetDateTime revokedAt,
            OffsetDateTime lastSyncAt,
            Integer schemaVersion,
            long syncLagChanges,
            long openConflicts,
            String modelsJson) {}

    public record Summary(
            long devices, long active, long syncedLastDay, long neverSynced, long openConflicts, long failingModels) {}

    /** Devices after {@code afterId} in id order whose id contains {@code query} (any, when empty). */
    public Uni<List<DeviceRow>> devices(String afterId, String query, int limit) {
        return pool.preparedQuery("select d.id, d.scopes, d.created_at, d.revoked_at, d.last_sync_at, d.schema_version,"
                        + " (select count(*) from conflict c where c.status = 'open' and c.scope = any(d.scopes))"
                        + "   as open_conflicts,"
                        // Per scope, so the (scope, xid, pos) index bounds each scan from the device's cursor on.
                        // Changes, not entries: an entry holds n (at most LAG_COUNT_MAX entries read per scope).
                        + " (select least(coalesce(sum(n), 0), " + LAG_COUNT_MAX
                        + ") from (select n from unnest(d.scopes) as s(scope),"
                        + "   lateral (select f.n from change_feed f where f.scope = s.scope and (f.xid, f.pos) >"
                        + "     (split_part(coalesce(d.last_cursor, '0:0'), ':', 1)::xid8,"
                        + "      split_part(coalesce(d.last_cursor, '0:0'), ':', 2)::bigint)"
                        + "     and f.device_id <> d.id limit " + LAG_COUNT_MAX + ") owed_in_scope"
                        + "   limit " + LAG_COUNT_MAX + ") owed) as lag,"
                        + " coalesce((select json_agg(json_build_object('artifact', m.artifact, 'activeVersion',"
                        + "   m.active_version, 'targetVersion', m.target_version, 'outcome', m.outcome, 'errorCode',"
                        + "   m.error_code, 'reportedAt', m.reported_at) order by m.artifact)"
                        + "   from device_model m where m.device_id = d.id), '[]')::text as models"
                        + " from device d where d.id > $1 and strpos(lower(d.id), lower($2)) > 0"
                        + " order by d.id limit $3")
                .execute(Tuple.of(afterId, query, limit))
                .map(rows -> {
                    List<DeviceRow> out = new ArrayList<>(rows.size());
                    for (Row r : rows) {
                        out.add(new DeviceRow(
                                r.getString("id"),
                                Arrays.asList(r.getArrayOfStrings("scopes")),
                                r.getOffsetDateTime("created_at"),
                                r.getOffsetDateTime("revoked_at"),
                                r.getOffsetDateTime("last_sync_at"),
                                r.getInteger("schema_version"),
                                r.getLong("lag"),
                                r.getLong("open_conflicts"),
                                r.getString("models")));
                    }
                    return out;
                });
    }

    public Uni<Summary> summary() {
        return pool.query("select count(*) as devices, count(*) filter (where revoked_at is null) as active,"
                        + " count(*) filter (where last_sync_at > now() - interval '1 day') as synced_day,"
                        + " count(*) filter (where last_sync_at is null and revoked_at is null) as never,"
                        + " (select count(*) from conflict where status = 'open') as conflicts,"
                        + " (select count(*) from device_model where outcome in ('failed', 'reverted')) as failing"
                        + " from device")
                .execute()
                .map(rows -> {
                    Row r = rows.iterator().next();
                    return new Summary(
                            r.getLong("devices"),
                            r.getLong("active"),
                            r.getLong("synced_day"),
                            r.getLong("never"),
                            r.getLong("conflicts"),
                            r.getLong("failing"));
                });
    }
}
