package dev.outpost.sync.auth;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.pubsub.PgSubscriber;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgConnectOptions;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.eclipse.microprofile.config.Config;
import org.jboss.logging.Logger;

/**
 * Tells every replica to forget a credential it remembers, through PostgreSQL's {@code LISTEN}/{@code NOTIFY} on
 * channel {@value #CHANNEL}: a device revoked or an operator disabled through one replica is refused by every other
 * one as soon as the notice arrives (milliseconds), not when its cached credential expires. Each replica listens on
 * one connection of its own; while that connection is down (the database restarting, say) notices can be missed, so
 * on every (re)subscription each listener forgets everything it remembers, and the cache's lifetime
 * ({@code outpost.auth.credential-cache-ttl}) stays the bound for the time the connection is down.
 */
@ApplicationScoped
public class ReplicaNotices {
    static final String CHANNEL = "outpost_forget";
    private static final Logger LOG = Logger.getLogger(ReplicaNotices.class);
    private static final long RECONNECT_MS = 1000;

    /** What a kind of notice does: forget one name, or forget everything (after notices may have been missed). */
    record Listener(Consumer<String> forget, Runnable forgetAll) {}

    private final Pool pool;
    private final Vertx vertx;
    private final Config config;
    private final Map<String, Listener> listeners = new ConcurrentHashMap<>();
    private volatile PgSubscriber subscriber;
    private volatile boolean listening;
    private volatile boolean stopped;

    public ReplicaNotices(Pool pool, Vertx vertx, Config config) {
        this.pool = pool;
        this.vertx = vertx;
        this.config = config;
    }

    /** Registers what a notice of {@code kind} ({@code device}, {@code operator}) does on this replica. */
    void listen(String kind, Consumer<String> forget, Runnable forgetAll) {
        listeners.put(kind, new Listener(forget, forgetAll));
    }

    /** Whether this replica is subscribed now (notices reach it at once). */
    public boolean listening() {
        return listening;
    }

    /** Tells every replica (this one included) to forget what it remembers of {@code name}. */
    Uni<Void> publish(String kind, String name) {
        return pool.preparedQuery("select pg_notify($1, $2)")
                .execute(Tuple.of(CHANNEL, kind + ":" + name))
                .replaceWithVoid()
                .onFailure()
                .recoverWithItem(e -> {
                    // The change is made and this replica forgot at once; the others within the cache's lifetime.
                    LOG.warnf("could not tell the other replicas to forget %s %s: %s", kind, name, e.toString());
                    return null;
                });
    }

    void start(@Observes StartupEvent ev) {
        var url = config.getOptionalValue("quarkus.datasource.reactive.url", String.class);
        if (url.isEmpty()) {
            LOG.warn(
                    "no reactive datasource URL: replicas learn of revocations within the credential cache's lifetime");
            return;
        }
        String uri = url.get().split(",")[0].strip().replaceFirst("^vertx-reactive:", "");
        PgConnectOptions options = PgConnectOptions.fromUri(uri);
        config.getOptionalValue("quarkus.datasource.username", String.class).ifPresent(options::setUser);
        config.getOptionalValue("quarkus.datasource.password", String.class).ifPresent(options::setPassword);
        PgSubscriber s = PgSubscriber.subscriber(vertx, options).reconnectPolicy(attempt -> RECONNECT_MS);
        s.closeHandler(() -> {
            listening = false;
            if (!stopped) {
                LOG.warn("the replica notices connection closed; reconnecting");
            }
        });
        s.channel(CHANNEL).subscribeHandler(this::subscribed).handler(this::received);
        subscriber = s;
        connect();
    }

    private void connect() {
        PgSubscriber s = subscriber;
        if (s == null || stopped) {
            return;
        }
        s.connect().subscribe().with(ok -> {}, e -> {
            LOG.warnf("replica notices: cannot listen yet (%s); trying again in %d ms", e.toString(), RECONNECT_MS);
            vertx.setTimer(RECONNECT_MS, id -> connect());
        });
    }

    private void subscribed() {
        // Notices sent while this replica was not listening are lost: forget everything once.
        listeners.values().forEach(l -> l.forgetAll().run());
        listening = true;
    }

    private void received(String payload) {
        int colon = payload.indexOf(':');
        Listener l = colon < 0 ? null : listeners.get(payload.substring(0, colon));
        if (l == null) {
            LOG.warnf("replica notices: unknown notice '%s'", payload);
            return;
        }
        l.forget().accept(payload.substring(colon + 1));
    }

    void stop(@Observes ShutdownEvent ev) {
        stopped = true;
        PgSubscriber s = subscriber;
        if (s != null) {
            s.closeAndForget();
        }
    }
}
