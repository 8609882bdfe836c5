package dev.outpost.sync.store;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.rollout.RolloutState;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The rollout tables: rollouts (their state machine's state) and the event trail of every change. */
@ApplicationScoped
public class RolloutStore {
    private final Pool pool;

    public RolloutStore(Pool pool) {
        this.pool = pool;
    }

    /** A stored rollout; {@code policy} is the policy's JSON form (RolloutViews). */
    public record RolloutRow(
            long id,
            String artifact,
            long version,
            long previousVersion,
            List<String> scopes,
            String policy,
            RolloutState state,
            OffsetDateTime createdAt,
            String createdBy,
            OffsetDateTime updatedAt,
            OffsetDateTime waveOpenedAt) {}

    public record Event(OffsetDateTime at, String actor, String action, String status, int openWaves, String detail) {}

    /** A device the rollout targets, with its last report for the artifact (nulls when it never reported). */
    public record Target(String deviceId, Long activeVersion, Long targetVersion, String outcome) {}

    public Uni<RolloutRow> insert(
            String artifact, long version, long previous, List<String> scopes, String policy, String actor) {
        return pool.withTransaction(tx -> tx.preparedQuery(
                                "insert into rollout (artifact, version, previous_version, scopes, policy, status,"
                                        + " open_waves, created_by) values ($1, $2, $3, $4, $5, 'DRAFT', 0, $6) returning *")
                        .execute(Tuple.from(Arrays.asList(
                                artifact, version, previous, scopes.toArray(String[]::new), policy, actor)))
                        .map(rows -> row(rows.iterator().next()))
                        .flatMap(r -> event(tx, r.id(), actor, "create", r.state(), "version " + version)
                                .replaceWith(r)))
                .onFailure(e -> e instanceof PgException pg && "23505".equals(pg.getSqlState()))
                .transform(e -> new OutpostException(
                        ErrorCode.ALREADY_EXISTS, artifact + " has a rollout in flight; finish or roll it back first"));
    }

    public Uni<Optional<RolloutRow>> get(long id) {
        return pool.preparedQuery("select * from rollout where id = $1")
                .execute(Tuple.of(id))
                .map(rows -> rows.size() == 0
                        ? Optional.empty()
                        : Optional.of(row(rows.iterator().next())));
    }

    public Uni<List<RolloutRow>> findAll() {
        return pool.query("select * from rollout order by id desc limit 200")
                .execute()
                .map(RolloutStore::rows);
    }

    /** The newest started rollout of each artifact (running, paused, completed or rolled back). */
    public Uni<List<RolloutRow>> findCurrent() {
        return pool.query("select distinct on (artifact) * from rollout where status <> 'DRAFT'"
                        + " order by artifact, id desc")
                .execute()
                .map(RolloutStore::rows);
    }

    /**
     * Moves a rollout from {@code from} to {@code to} and records the event, in one transaction; fails with
     * {@code stale-resolution} (409) when someone else moved it first.
     */
    public Uni<RolloutRow> transition(
            long id, RolloutState from, RolloutState to, String actor, String action, String detail) {
        return pool.withTransaction(tx -> tx.preparedQuery(
                        "update rollout set status = $2, open_waves = $3, reason = $4, updated_at = now(),"
                                + " wave_opened_at = case when open_waves <> $3 then now() else wave_opened_at end"
                                // The whole state read, reason included: a move that changes only the reason (a
                                // wave found healthy) is made once however many replicas find it at once.
                                + " where id = $1 and status = $5 and open_waves = $6 and reason = $7 returning *")
                .execute(Tuple.from(Arrays.asList(
                        id,
                        to.status().name(),
                        to.openWaves(),
                        to.reason(),
                        from.status().name(),
                        from.openWaves(),
                        from.reason())))
                .flatMap(rows -> {
                    if (rows.size() == 0) {
                        throw new OutpostException(
                                ErrorCode.STALE_RESOLUTION, "the rollout changed meanwhile; look again");
                    }
                    RolloutRow r = row(rows.iterator().next());
                    return event(tx, id, actor, action, to, detail).replaceWith(r);
                }));
    }

    public Uni<List<Event>> events(long id) {
        return pool.preparedQuery("select * from rollout_event where rollout_id = $1 order by id")
                .execute(Tuple.of(id))
                .map(rows -> {
                    List<Event> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new Event(
                            r.getOffsetDateTime("at"),
                            r.getString("actor"),
                            r.getString("action"),
                            r.getString("status"),
                            r.getInteger("open_waves"),
                            r.getString("detail"))));
                    return out;
                });
    }

    /** Every non-revoked device in any of {@code scopes}, with its last report for {@code artifact}. */
    public Uni<List<Target>> targets(String artifact, List<String> scopes) {
        return pool.preparedQuery("select d.id, m.active_version, m.target_version, m.outcome from device d"
                        + " left join device_model m on m.device_id = d.id and m.artifact = $1"
                        + " where d.revoked_at is null and d.scopes && $2 order by d.id")
                .execute(Tuple.of(artifact, scopes.toArray(String[]::new)))
                .map(rows -> {
                    List<Target> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new Target(
                            r.getString("id"),
                            r.getLong("active_version"),
                            r.getLong("target_version"),
                            r.getString("outcome"))));
                    return out;
                });
    }

    private static Uni<Void> event(
            SqlConnection tx, long id, String actor, String action, RolloutState state, String detail) {
        return tx.preparedQuery("insert into rollout_event (rollout_id, actor, action, status, open_waves, detail)"
                        + " values ($1, $2, $3, $4, $5, $6)")
                .execute(Tuple.from(Arrays.asList(
                        id, actor, action, state.status().name(), state.openWaves(), detail == null ? "" : detail)))
                .replaceWithVoid();
    }

    private static List<RolloutRow> rows(io.vertx.mutiny.sqlclient.RowSet<Row> rows) {
        List<RolloutRow> out = new ArrayList<>();
        rows.forEach(r -> out.add(row(r)));
        return out;
    }

    private static RolloutRow row(Row r) {
        return new RolloutRow(
                r.getLong("id"),
                r.getString("artifact"),
                r.getLong("version"),
                r.getLong("previous_version"),
                Arrays.asList(r.getArrayOfStrings("scopes")),
                r.getString("policy"),
                new RolloutState(
                        RolloutState.Status.valueOf(r.getString("status")),
                        r.getInteger("open_waves"),
                        r.getString("reason")),
                r.getOffsetDateTime("created_at"),
                r.getString("created_by"),
                r.getOffsetDateTime("updated_at"),
                r.getOffsetDateTime("wave_opened_at"));
    }
}
