package dev.outpost.sync.rollout;

import dev.outpost.sync.config.OutpostConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * Looks at running rollouts with automatic promotion on a timer, so a soaked healthy wave opens the next one even
 * when no device reports. Every replica runs it; a transition is conditional on the state it read, so two replicas
 * never open a wave twice.
 */
@ApplicationScoped
public class RolloutTicker {
    private static final Logger LOG = Logger.getLogger(RolloutTicker.class);

    private final RolloutService rollouts;
    private final OutpostConfig config;
    private final Vertx vertx;
    private final AtomicBoolean busy = new AtomicBoolean();
    private long timer = -1;

    public RolloutTicker(RolloutService rollouts, OutpostConfig config, Vertx vertx) {
        this.rollouts = rollouts;
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
        rollouts.evaluateSoaking().subscribe().with(x -> busy.set(false), e -> {
            busy.set(false);
            LOG.warnf(
                    "rollout evaluation failed (tried again in %s): %s",
                    config.rollouts().evaluateEvery(), e.toString());
        });
    }
}
