package dev.outpost.sync.retention;

import dev.outpost.sync.artifact.ArtifactGc;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.PeriodicJob;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.jboss.logging.Logger;

/**
 * Prunes what the service keeps for a while only: applied batch ids past the retry window and model reports past
 * their age (outpost.retention), then collects chunks and deltas nothing refers to ({@link ArtifactGc}). Every
 * replica has the timer; one look at a time runs across them (an advisory lock), and each look deletes at most
 * {@code rows-per-run} rows per table, oldest first, so a backlog drains over several looks instead of one long
 * transaction.
 */
@ApplicationScoped
public class RetentionJob {
    private static final Logger LOG = Logger.getLogger(RetentionJob.class);

    /** The advisory lock key of a look (no other lock of the service uses it). */
    public static final long LOCK_KEY = 0x6f75_7470_7265_7465L;

    private final Pool pool;
    private final ArtifactGc gc;
    private final OutpostConfig.Retention config;
    private final PeriodicJob job;
    private final Counter batches;
    private final Counter reports;

    public RetentionJob(Pool pool, OutpostConfig config, Vertx vertx, MeterRegistry metrics, ArtifactGc gc) {
        this.pool = pool;
        this.gc = gc;
        this.config = config.retention();
        this.batches = Counter.builder("outpost.retention.deleted")
                .tag("what", "batch_ids")
                .description("rows pruned by retention")
                .register(metrics);
        this.reports = Counter.builder("outpost.retention.deleted")
                .tag("what", "model_reports")
                .description("rows pruned by retention")
                .register(metrics);
        this.job = new PeriodicJob(
                vertx, "pruning by retention", this.config.every(), () -> run(Instant.now(), this.config.rowsPerRun()));
    }

    void start(@Observes StartupEvent ev) {
        job.start(false);
    }

    void stop(@Observes ShutdownEvent ev) {
        job.stop();
    }

    /** What one look deleted; {@code ran} is false when another replica was looking. */
    public record Pruned(boolean ran, long batchIds, long modelReports, long chunks, long deltas) {}

    /** One look as of {@code now}, deleting at most {@code limit} rows per table. */
    public Uni<Pruned> run(Instant now, int limit) {
        long[] deleted = new long[2];
        return PeriodicJob.onOneReplica(
                        pool,
                        LOCK_KEY,
                        () -> delete(
                                        "delete from sync_batch where batch_id in (select batch_id from sync_batch"
                                                + " where created_at < $1 order by created_at limit $2)",
                                        now.minus(config.batchRetryWindow()),
                                        limit)
                                .invoke(n -> deleted[0] = n)
                                .flatMap(x -> delete(
                                        "delete from model_report where id in (select id from model_report"
                                                + " where reported_at < $1 order by reported_at limit $2)",
                                        now.minus(config.modelReports()),
                                        limit))
                                .invoke(n -> deleted[1] = n))
                .flatMap(ran -> gc.collect(limit).map(c -> {
                    batches.increment(deleted[0]);
                    reports.increment(deleted[1]);
                    if (deleted[0] + deleted[1] > 0) {
                        LOG.infof("retention pruned %d batch ids and %d model reports", deleted[0], deleted[1]);
                    }
                    return new Pruned(ran, deleted[0], deleted[1], c.chunks(), c.deltas());
                }));
    }

    private Uni<Long> delete(String sql, Instant before, int limit) {
        return pool.preparedQuery(sql)
                .execute(Tuple.of(OffsetDateTime.ofInstant(before, ZoneOffset.UTC), limit))
                .map(rows -> (long) rows.rowCount());
    }
}
