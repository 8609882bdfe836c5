package dev.outpost.sync.rollout;

import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.PeriodicJob;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Looks at running rollouts with automatic promotion on a timer, so a soaked healthy wave opens the next one even
 * when no device reports. Every replica has the timer; one look runs at a time across them all (a PostgreSQL advisory
 * lock held by the look's transaction: a replica that cannot take it skips its turn), and a transition is conditional
 * on the state it read besides, so two replicas never open a wave twice.
 */
@ApplicationScoped
public class RolloutTicker {
    /** The advisory lock key of the look (any constant no other lock of the service uses). */
    static final long LOCK_KEY = 0x6f75_7470_726f_6c6cL;

    private final RolloutService rollouts;
    private final Pool pool;
    private final Counter looks;
    private final PeriodicJob job;

    public RolloutTicker(RolloutService rollouts, OutpostConfig config, Vertx vertx, Pool pool, MeterRegistry metrics) {
        this.rollouts = rollouts;
        this.pool = pool;
        this.looks = metrics.counter("outpost.rollouts.evaluations");
        this.job =
                new PeriodicJob(vertx, "rollout evaluation", config.rollouts().evaluateEvery(), this::look);
    }

    void start(@Observes StartupEvent ev) {
        job.start(false);
    }

    void stop(@Observes ShutdownEvent ev) {
        job.stop();
    }

    private Uni<Boolean> look() {
        return PeriodicJob.onOneReplica(pool, LOCK_KEY, () -> {
            looks.increment();
            return rollouts.evaluateSoaking();
        });
    }
}
