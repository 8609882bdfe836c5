package dev.outpost.sync.admin;

import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayDeque;
import java.util.function.Supplier;

/**
 * Server writes that read a row and write what they computed from it run one at a time on this replica. A counter
 * is the case that needs it: the office's increment is a new total of the replica's own contribution (the row's
 * contribution read, plus n), so two increments computed from the same read would give the same total and one would
 * be lost. Other replicas write contributions of their own (node id {@code server.<replica id>}), so one lane per
 * replica is enough. The work is asynchronous: nothing blocks; the next write starts when the previous one ends.
 */
@ApplicationScoped
public class ServerWriteLane {
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private boolean busy;

    /** Runs {@code work} (subscribed when its turn comes) after every write queued before it has ended. */
    public <T> Uni<T> run(Supplier<Uni<T>> work) {
        return Uni.createFrom().emitter(em -> {
            Runnable start = () -> {
                Uni<T> u;
                try {
                    u = work.get();
                } catch (RuntimeException e) {
                    release();
                    em.fail(e);
                    return;
                }
                u.subscribe()
                        .with(
                                item -> {
                                    release();
                                    em.complete(item);
                                },
                                failure -> {
                                    release();
                                    em.fail(failure);
                                });
            };
            boolean now;
            synchronized (this) {
                now = !busy;
                if (now) {
                    busy = true;
                } else {
                    waiting.add(start);
                }
            }
            if (now) {
                start.run();
            }
        });
    }

    private void release() {
        Runnable next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                busy = false;
            }
        }
        if (next != null) {
            next.run();
        }
    }
}
