package dev.outpost.sync.config;

import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Work a replica does every period, on the event loop without blocking it: a tick that finds the last run still going
 * is skipped (never two at once), a failed run is logged and tried again next period.
 */
public final class PeriodicJob {
    private static final Logger LOG = Logger.getLogger(PeriodicJob.class);

    private final Vertx vertx;
    private final String what;
    private final Duration every;
    private final Supplier<Uni<?>> run;
    private final AtomicBoolean busy = new AtomicBoolean();
    private long timer = -1;

    /** {@code what} names the work in the log line of a failed run ("applying SQL writes"). */
    public PeriodicJob(Vertx vertx, String what, Duration every, Supplier<Uni<?>> run) {
        this.vertx = vertx;
        this.what = what;
        this.every = every;
        this.run = run;
    }

    /** Starts ticking; {@code now} runs once at once too. */
    public void start(boolean now) {
        if (now) {
            tick();
        }
        timer = vertx.setPeriodic(Math.max(1, every.toMillis()), id -> tick());
    }

    public void stop() {
        if (timer >= 0) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
    }

    private void tick() {
        if (!busy.compareAndSet(false, true)) {
            return; // the last run is still going
        }
        Uni<?> work;
        try {
            work = run.get();
        } catch (RuntimeException e) {
            busy.set(false);
            LOG.warnf("%s failed (tried again in %s): %s", what, every, e.toString());
            return;
        }
        work.subscribe().with(x -> busy.set(false), e -> {
            busy.set(false);
            LOG.warnf("%s failed (tried again in %s): %s", what, every, e.toString());
        });
    }

    /**
     * Runs {@code work} in a transaction holding the advisory lock {@code key}, when no other replica holds it now;
     * answers whether it ran. For work that one replica at a time should do (others skip their turn).
     */
    public static Uni<Boolean> onOneReplica(Pool pool, long key, Supplier<Uni<?>> work) {
        return pool.withTransaction(tx -> tx.preparedQuery("select pg_try_advisory_xact_lock($1) as mine")
                .execute(Tuple.of(key))
                .flatMap(rows -> rows.iterator().next().getBoolean("mine")
                        ? work.get().replaceWith(Boolean.TRUE)
                        : Uni.createFrom().item(Boolean.FALSE)));
    }
}
