package dev.outpost.sync.rollout;

import dev.outpost.sync.config.OutpostConfig;
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
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * Looks at running rollouts with automatic promotion on a timer, so a soaked healthy wave opens the next one even
 * when no device reports. Every replica has the timer; one look runs at a time across them all (a PostgreSQL advisory
 * lock held by the look's transaction: a replica that cannot take it skips its turn), and a transition is conditional
 * on the state it read besides, so two replicas never open a wave twice.
 */
@ApplicationScoped
public class RolloutTicker {
    private static final Logger LOG = Logger.getLogger(RolloutTicker.class);

    /** The advisory lock key of the look (any constant no other lock of the service uses). */
    static final long LOCK_KEY = 0x6f75_7470_726f_6c6cL;

    private final RolloutService rollouts;
    private final Pool pool;
    private final Counter looks;
    private final OutpostConfig config;
    private final Vertx vertx;
    private final AtomicBoolean busy = new AtomicBoolean();
    private long timer = -1;

    public RolloutTicker(RolloutService rollouts, OutpostConfig config, Vertx vertx, Pool pool, MeterRegistry metrics) {
        this.rollouts = rollouts;
        this.pool = pool;
        this.looks = metrics.counter("outpost.rollouts.evaluations");
        this.config = config;
        this.vertx = vertx;
    }

    void start(@Observes StartupEvent ev) {
        timer = vertx.setPeriodic(config.rollouts().evaluateEvery().toMillis(), id -> tick());
    }

    void stop(@Observes ShutdownEvent ev) {
        if (timer >= 0) {
            vertx.cancelTimer(timer);
        }
    }

    private void tick() {
        if (!busy.compareAndSet(false, true)) {
            return; // the previous look is still running
        }
        pool.withTransaction(tx -> tx.preparedQuery("select pg_try_advisory_xact_lock($1) as mine")
                        .execute(Tuple.of(LOCK_KEY))
                        .flatMap(rows -> {
                            if (!rows.iterator().next().getBoolean("mine")) {
                                return Uni.createFrom().voidItem(); // another replica is looking now
                            }
                            looks.increment();
                            return rollouts.evaluateSoaking();
                        }))
                .subscribe()
                .with(x -> busy.set(false), e -> {
                    busy.set(false);
                    LOG.warnf(
                            "rollout evaluation failed (tried again in %s): %s",
                            config.rollouts().evaluateEvery(), e.toString());
                });
    }
}
