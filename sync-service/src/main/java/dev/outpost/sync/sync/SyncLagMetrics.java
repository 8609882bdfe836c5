package dev.outpost.sync.sync;

import dev.outpost.sync.config.PeriodicJob;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.ArrayList;
import java.util.List;

/**
 * How long each device has gone without syncing, as metrics, re-read from the device table every
 * {@link #REFRESH_MS}: {@code outpost_device_sync_lag_seconds{device}} per active device (at most
 * {@link #PER_DEVICE_MAX} of them, the most behind first: one series per device is what a dashboard of stragglers
 * needs, and past that many Prometheus pays more than it shows), and for the whole fleet
 * {@code outpost_devices_sync_lag_max_seconds}, {@code outpost_devices_active} and
 * {@code outpost_devices_unsynced{over="1h"|"1d"|"7d"}}. A device that never synced counts from its registration.
 * Every replica exports the same values (sum or max over pods, never add them up).
 */
@ApplicationScoped
public class SyncLagMetrics {
    static final long REFRESH_MS = 30_000;
    static final int PER_DEVICE_MAX = 20_000;
    private static final long[] OVER_S = {3600, 86_400, 7 * 86_400};
    private static final String[] OVER_NAMES = {"1h", "1d", "7d"};

    private final Pool pool;
    private final MultiGauge perDevice;
    private volatile double lagMax;
    private volatile long active;
    private final long[] unsynced = new long[OVER_S.length];
    private final PeriodicJob job;

    public SyncLagMetrics(Pool pool, Vertx vertx, MeterRegistry metrics) {
        this.pool = pool;
        this.job = new PeriodicJob(
                vertx.getDelegate(),
                "refreshing sync lag metrics",
                java.time.Duration.ofMillis(REFRESH_MS),
                this::refresh);
        this.perDevice = MultiGauge.builder("outpost.device.sync.lag")
                .description("seconds since the device's last sync (since its registration when it never synced)")
                .baseUnit("seconds")
                .register(metrics);
        Gauge.builder("outpost.devices.sync.lag.max", this, m -> m.lagMax)
                .baseUnit("seconds")
                .description("the longest any active device has gone without syncing")
                .register(metrics);
        Gauge.builder("outpost.devices.active", this, m -> m.active)
                .description("devices not revoked")
                .register(metrics);
        for (int i = 0; i < OVER_S.length; i++) {
            int k = i;
            Gauge.builder("outpost.devices.unsynced", this, m -> m.unsynced[k])
                    .tag("over", OVER_NAMES[i])
                    .description("active devices that have not synced for longer than this")
                    .register(metrics);
        }
    }

    void start(@Observes StartupEvent ev) {
        job.start(true);
    }

    void stop(@Observes ShutdownEvent ev) {
        job.stop();
    }

    /** Reads every active device's lag and publishes it. */
    public Uni<Void> refresh() {
        return pool.query("select id, extract(epoch from now() - coalesce(last_sync_at, created_at))::float8 as lag"
                        + " from device where revoked_at is null order by lag desc")
                .execute()
                .invoke(rows -> {
                    List<MultiGauge.Row<?>> series = new ArrayList<>();
                    double max = 0;
                    long[] over = new long[OVER_S.length];
                    long n = 0;
                    for (Row r : rows) {
                        double lag = Math.max(0, r.getDouble("lag"));
                        max = Math.max(max, lag);
                        for (int i = 0; i < OVER_S.length; i++) {
                            if (lag > OVER_S[i]) {
                                over[i]++;
                            }
                        }
                        if (n++ < PER_DEVICE_MAX) {
                            series.add(MultiGauge.Row.of(Tags.of("device", r.getString("id")), lag));
                        }
                    }
                    perDevice.register(series, true);
                    lagMax = max;
                    active = n;
                    System.arraycopy(over, 0, unsynced, 0, over.length);
                })
                .replaceWithVoid();
    }
}
