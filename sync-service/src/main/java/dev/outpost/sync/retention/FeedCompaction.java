package dev.outpost.sync.retention;

import dev.outpost.model.OutpostException;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.PeriodicJob;
import dev.outpost.sync.store.Cursor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.jboss.logging.Logger;

/**
 * Compacts the change feed (docs/operations.md, "Compaction"). A scope's horizon is the lowest of the cursors of the
 * devices active in it (synced within {@code outpost.compaction.device-idle}, not revoked) and of its oldest kept
 * snapshot; a scope without a snapshot is not compacted, since a device behind its horizon would have no way in. Each
 * look deletes, per scope, at most {@code entries-per-run} entries below the horizon, oldest first, and moves the
 * scope's recorded horizon ({@code feed_horizon}) to the last entry deleted in the same statement, so a pull's snapshot
 * sees both or neither: a pull from behind it is answered {@code cursor-behind-horizon} and never misses an entry.
 * One replica looks at a time (an advisory lock).
 */
@ApplicationScoped
public class FeedCompaction {
    private static final Logger LOG = Logger.getLogger(FeedCompaction.class);

    /** The advisory lock key of a look (no other lock of the service uses it). */
    public static final long LOCK_KEY = 0x6f75_7470_636f_6d70L;

    private final Pool pool;
    private final OutpostConfig.Compaction config;
    private final PeriodicJob job;
    private final Counter compacted;

    public FeedCompaction(Pool pool, OutpostConfig config, Vertx vertx, MeterRegistry metrics) {
        this.pool = pool;
        this.config = config.compaction();
        this.compacted = Counter.builder("outpost.compaction.entries")
                .description("change feed entries deleted below the horizon")
                .register(metrics);
        this.job = new PeriodicJob(
                vertx,
                "compacting the feed",
                this.config.every(),
                () -> run(Instant.now(), this.config.entriesPerRun(), scope -> true));
    }

    void start(@Observes StartupEvent ev) {
        if (config.enabled()) {
            job.start(false);
        }
    }

    void stop(@Observes ShutdownEvent ev) {
        job.stop();
    }

    /**
     * What one look did: {@code ran} is false when another replica was looking; per scope compacted, the entries
     * deleted and the horizon it stands at now.
     */
    public record Compacted(boolean ran, Map<String, Long> entries, Map<String, Cursor> horizons) {
        public long total() {
            return entries.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /** One look as of {@code now}, deleting at most {@code limit} entries per scope of those {@code scopes} takes. */
    public Uni<Compacted> run(Instant now, int limit, Predicate<String> scopes) {
        Map<String, Long> entries = new TreeMap<>();
        Map<String, Cursor> horizons = new TreeMap<>();
        return PeriodicJob.onOneReplica(
                        pool,
                        LOCK_KEY,
                        () -> targets(now).flatMap(targets -> {
                            Uni<Void> chain = Uni.createFrom().voidItem();
                            for (var t : targets.entrySet()) {
                                if (!scopes.test(t.getKey())) {
                                    continue;
                                }
                                chain = chain.flatMap(x -> compact(t.getKey(), t.getValue(), limit)
                                        .invoke(done -> {
                                            if (done != null) {
                                                entries.put(t.getKey(), done.entries());
                                                horizons.put(t.getKey(), done.horizon());
                                            }
                                        })
                                        .replaceWithVoid());
                            }
                            return chain;
                        }))
                .map(ran -> {
                    Compacted c = new Compacted(ran, entries, horizons);
                    compacted.increment(c.total());
                    if (c.total() > 0) {
                        LOG.infof("compaction deleted %d feed entries; horizons now %s", c.total(), horizons);
                    }
                    return c;
                });
    }

    /**
     * Each scope's target: the lowest cursor of its kept snapshots and of the devices active in it. Scopes without a
     * snapshot are left out.
     */
    Uni<Map<String, Cursor>> targets(Instant now) {
        Map<String, Cursor> targets = new TreeMap<>();
        return pool.query("select scope, cursor from scope_snapshot")
                .execute()
                .flatMap(snapshots -> {
                    for (Row r : snapshots) {
                        targets.merge(r.getString("scope"), cursor(r.getString("cursor")), FeedCompaction::lower);
                    }
                    return pool.preparedQuery("select unnest(scopes) as scope, last_cursor from device"
                                    + " where revoked_at is null and last_cursor is not null and last_sync_at > $1")
                            .execute(
                                    Tuple.of(OffsetDateTime.ofInstant(now.minus(config.deviceIdle()), ZoneOffset.UTC)));
                })
                .map(devices -> {
                    for (Row r : devices) {
                        targets.computeIfPresent(
                                r.getString("scope"), (s, t) -> lower(t, cursor(r.getString("last_cursor"))));
                    }
                    return targets;
                });
    }

    private record Done(long entries, Cursor horizon) {}

    /**
     * Deletes the scope's oldest entries strictly before the target's entry (at most {@code limit}) and moves its
     * horizon to the last of them, in one statement; null when there was nothing to delete.
     */
    private Uni<Done> compact(String scope, Cursor target, int limit) {
        return pool.preparedQuery("with gone as (delete from change_feed where pos in (select pos from change_feed"
                        + " where scope = $1 and (xid, pos) < ($2::text::xid8, $3) order by xid, pos limit $4)"
                        + " returning xid, pos),"
                        + " top as (select xid, pos from gone order by xid desc, pos desc limit 1),"
                        + " n as (select count(*) as n from gone)"
                        + " insert into feed_horizon (scope, xid, pos, compacted)"
                        + " select $1, top.xid, top.pos, n.n from top, n"
                        + " on conflict (scope) do update set xid = excluded.xid, pos = excluded.pos,"
                        + " compacted = feed_horizon.compacted + excluded.compacted, moved_at = now()"
                        + " returning xid::text || ':' || pos as horizon, (select n from n) as n")
                .execute(Tuple.of(scope, Long.toString(target.xid()), target.pos(), limit))
                .map(rows -> rows.size() == 0
                        ? null
                        : new Done(
                                rows.iterator().next().getLong("n"),
                                Cursor.parse(rows.iterator().next().getString("horizon"))));
    }

    /** A stored cursor; one that cannot be read holds the whole feed back (START) rather than lose a device's place. */
    private static Cursor cursor(String text) {
        try {
            return Cursor.parse(text);
        } catch (OutpostException e) {
            return Cursor.START;
        }
    }

    private static Cursor lower(Cursor a, Cursor b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
