package dev.outpost.sync.rollout;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.rollout.RolloutMachine;
import dev.outpost.model.rollout.RolloutPolicy;
import dev.outpost.model.rollout.RolloutState;
import dev.outpost.model.rollout.WaveReport;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.store.ArtifactStore;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.store.RolloutStore;
import dev.outpost.sync.store.RolloutStore.RolloutRow;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Staged rollouts: operator actions and device reports drive shared-model's {@link RolloutMachine}; every change
 * is stored with who made it. The desired version of a device under a rollout follows from its wave, which follows
 * from its id, so check-ins need no per-device rows.
 */
@ApplicationScoped
public class RolloutService {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Current rollouts are re-read at most this often per replica for check-ins. */
    private static final long CURRENT_CACHE_MS = 1000;

    private final RolloutStore store;
    private final ArtifactStore artifacts;
    private final MeterRegistry metrics;
    private final OutpostConfig config;
    private final Map<String, AtomicLong> gauges = new ConcurrentHashMap<>();
    private volatile Current current = new Current(List.of(), 0);

    /** The current rollouts with their policies parsed once (check-ins read them thousands of times a second). */
    private record Current(List<Parsed> rollouts, long readAtMs) {}

    private record Parsed(RolloutRow row, RolloutPolicy policy) {}

    /** What a device should run of one artifact under a rollout. */
    public record Desired(String artifact, long version, boolean rollback) {}

    /** A rollout with its waves' report counts and its event trail. */
    public record Status(
            RolloutRow rollout, RolloutPolicy policy, List<WaveReport> waves, List<RolloutStore.Event> events) {}

    public RolloutService(RolloutStore store, ArtifactStore artifacts, MeterRegistry metrics, OutpostConfig config) {
        this.store = store;
        this.config = config;
        this.artifacts = artifacts;
        this.metrics = metrics;
    }

    public Uni<Status> create(
            String artifact,
            long version,
            Long previousVersion,
            List<String> scopes,
            RolloutPolicy policy,
            String actor) {
        if (scopes.isEmpty()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "a rollout targets at least one scope");
        }
        return artifacts
                .getVersion(artifact, version)
                .map(v ->
                        v.orElseThrow(() -> new Problem(ErrorCode.NOT_FOUND, "no " + artifact + " version " + version)))
                .flatMap(v -> previousVersion != null
                        ? Uni.createFrom().item(previousVersion)
                        : artifacts
                                .listDesired()
                                .map(all -> all.stream()
                                        .filter(d -> d.artifact().equals(artifact))
                                        .map(ArtifactStore.Desired::version)
                                        .findFirst()
                                        .orElseThrow(() -> new Problem(
                                                ErrorCode.MALFORMED_PAYLOAD,
                                                "give previousVersion: the version devices return to on a rollback"))))
                .flatMap(previous -> {
                    if (previous == version) {
                        throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "the previous version is the rollout's version");
                    }
                    return artifacts.getVersion(artifact, previous).flatMap(p -> {
                        if (p.isEmpty()) {
                            throw new Problem(ErrorCode.NOT_FOUND, "no " + artifact + " version " + previous);
                        }
                        return store.insert(artifact, version, previous, scopes, policyJson(policy), actor);
                    });
                })
                .flatMap(this::status);
    }

    /** start, promote, pause, resume or rollback, by an operator. */
    public Uni<Status> act(long id, String action, String actor) {
        return row(id).flatMap(r -> {
            RolloutPolicy policy = policyOf(r.policy());
            RolloutState next;
            try {
                next = switch (action) {
                    case "start" -> RolloutMachine.start(r.state());
                    case "promote" -> RolloutMachine.promote(r.state(), policy);
                    case "pause" -> RolloutMachine.pause(r.state(), "paused by " + actor);
                    case "resume" -> RolloutMachine.resume(r.state());
                    case "rollback" -> RolloutMachine.rollBack(r.state(), "rolled back by " + actor);
                    default -> throw new Problem(ErrorCode.NOT_FOUND, "no rollout action '" + action + "'");
                };
            } catch (OutpostException e) {
                throw new Problem(ErrorCode.ROLLOUT_STATE, e.getMessage());
            }
            return store.transition(id, r.state(), next, actor, action, next.reason())
                    .invoke(x -> current = new Current(List.of(), 0))
                    .flatMap(this::evaluate)
                    .flatMap(x -> status(id));
        });
    }

    public Uni<Status> status(long id) {
        return row(id).flatMap(this::status);
    }

    public Uni<List<RolloutRow>> findAll() {
        return store.findAll();
    }

    /** Re-evaluates the running rollout of {@code artifact}, if any (after a device report). */
    public Uni<Void> evaluateArtifact(String artifact) {
        return evaluateRunning(r -> r.artifact().equals(artifact));
    }

    /**
     * Re-evaluates every running rollout with automatic promotion, so a wave whose soak time ends opens without
     * waiting for another report. Called on a timer ({@code outpost.rollouts.evaluate-every}).
     */
    public Uni<Void> evaluateSoaking() {
        return evaluateRunning(r -> policyOf(r.policy()).autoPromoteAfter() != null);
    }

    /** Re-evaluates, one after the other, the current rollouts that are running and match {@code which}. */
    private Uni<Void> evaluateRunning(java.util.function.Predicate<RolloutRow> which) {
        return store.findCurrent().flatMap(rows -> {
            Uni<Void> chain = Uni.createFrom().voidItem();
            for (RolloutRow r : rows) {
                if (r.state().status() == RolloutState.Status.RUNNING && which.test(r)) {
                    chain = chain.flatMap(x -> evaluate(r).replaceWithVoid());
                }
            }
            return chain;
        });
    }

    /** The desired versions under rollouts for one device: one per artifact whose current rollout targets it. */
    public Uni<List<Desired>> desiredFor(DeviceRecord device) {
        return currentRollouts().map(rollouts -> {
            List<Desired> out = new ArrayList<>();
            for (Parsed p : rollouts) {
                RolloutRow r = p.row();
                if (r.scopes().stream().noneMatch(device::mayAccess)) {
                    continue;
                }
                RolloutPolicy policy = p.policy();
                long v =
                        RolloutMachine.desiredVersion(r.state(), policy, r.version(), r.previousVersion(), device.id());
                boolean rollback = r.state().status() == RolloutState.Status.ROLLED_BACK
                        && RolloutMachine.touched(r.state(), policy, device.id());
                out.add(new Desired(r.artifact(), v, rollback));
            }
            return out;
        });
    }

    private Uni<List<Parsed>> currentRollouts() {
        Current c = current;
        if (System.currentTimeMillis() - c.readAtMs() < CURRENT_CACHE_MS) {
            return Uni.createFrom().item(c.rollouts());
        }
        return store.findCurrent().map(rows -> {
            List<Parsed> parsed =
                    rows.stream().map(r -> new Parsed(r, policyOf(r.policy()))).toList();
            current = new Current(parsed, System.currentTimeMillis());
            return parsed;
        });
    }

    private Uni<RolloutRow> evaluate(RolloutRow r) {
        if (r.state().status() != RolloutState.Status.RUNNING) {
            return Uni.createFrom().item(r);
        }
        RolloutPolicy policy = policyOf(r.policy());
        return store.targets(r.artifact(), r.scopes()).flatMap(targets -> {
            List<WaveReport> waves = waves(r, policy, targets);
            Duration openFor = Duration.between(r.waveOpenedAt().toInstant(), java.time.Instant.now());
            RolloutState next =
                    RolloutMachine.evaluate(r.state(), policy, waves, openFor.isNegative() ? Duration.ZERO : openFor);
            if (next.equals(r.state())) {
                return Uni.createFrom().item(r);
            }
            String action = next.status() == RolloutState.Status.PAUSED
                    ? "emergency-pause"
                    : next.status() == RolloutState.Status.COMPLETED
                            ? "complete"
                            : next.openWaves() > r.state().openWaves()
                                    ? "advance"
                                    : next.reason().isEmpty() ? "wave-not-healthy" : "wave-healthy";
            return store.transition(r.id(), r.state(), next, "system", action, next.reason())
                    .invoke(x -> current = new Current(List.of(), 0))
                    // Another replica moved it first (the store's version check): its result stands.
                    .onFailure(e -> e instanceof OutpostException o && o.code() == ErrorCode.STALE_RESOLUTION)
                    .recoverWithUni(e -> row(r.id()));
        });
    }

    private Uni<Status> status(RolloutRow r) {
        RolloutPolicy policy = policyOf(r.policy());
        return store.targets(r.artifact(), r.scopes())
                .flatMap(targets -> store.events(r.id()).map(events -> {
                    List<WaveReport> waves = waves(r, policy, targets);
                    publish(r, waves);
                    return new Status(r, policy, waves, events);
                }));
    }

    /** Per wave: devices, healthy on the rollout's version, failed or reverted on it (the server follows reports). */
    static List<WaveReport> waves(RolloutRow r, RolloutPolicy policy, List<RolloutStore.Target> targets) {
        int n = policy.wavePercents().size();
        int[] devices = new int[n];
        int[] healthy = new int[n];
        int[] failed = new int[n];
        for (RolloutStore.Target t : targets) {
            int w = policy.waveOf(t.deviceId());
            devices[w]++;
            if (t.targetVersion() == null || t.targetVersion() != r.version()) {
                continue;
            }
            if ("installed".equals(t.outcome()) && t.activeVersion() != null && t.activeVersion() == r.version()) {
                healthy[w]++;
            } else if ("failed".equals(t.outcome()) || "reverted".equals(t.outcome())) {
                failed[w]++;
            }
        }
        List<WaveReport> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(new WaveReport(devices[i], healthy[i], failed[i]));
        }
        return out;
    }

    /** Prometheus gauges: outpost_rollout_wave_devices{artifact, rollout, wave, state}. */
    private void publish(RolloutRow r, List<WaveReport> waves) {
        for (int i = 0; i < waves.size(); i++) {
            WaveReport w = waves.get(i);
            gauge(r, i, "healthy").set(w.healthy());
            gauge(r, i, "failed").set(w.failed());
            gauge(r, i, "pending").set(w.devices() - w.reports());
        }
    }

    private AtomicLong gauge(RolloutRow r, int wave, String state) {
        String key = r.id() + "/" + wave + "/" + state;
        return gauges.computeIfAbsent(
                key,
                k -> metrics.gauge(
                        "outpost.rollout.wave.devices",
                        Tags.of(
                                "artifact",
                                r.artifact(),
                                "rollout",
                                Long.toString(r.id()),
                                "wave",
                                Integer.toString(wave + 1),
                                "state",
                                state),
                        new AtomicLong()));
    }

    private Uni<RolloutRow> row(long id) {
        return store.get(id).map(r -> r.orElseThrow(() -> new Problem(ErrorCode.NOT_FOUND, "no rollout " + id)));
    }

    public static String policyJson(RolloutPolicy p) {
        try {
            return JSON.writeValueAsString(policyView(p));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The policy as the API shows and stores it (the same names a create request uses). */
    public static Map<String, Object> policyView(RolloutPolicy p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("waves", p.wavePercents());
        m.put("successHealthyShare", p.successHealthyShare());
        m.put("successMinReports", p.successMinReports());
        m.put(
                "autoPromoteAfter",
                p.autoPromoteAfter() == null ? null : p.autoPromoteAfter().toString());
        m.put("errorFailureShare", p.errorFailureShare());
        m.put("errorMinReports", p.errorMinReports());
        return m;
    }

    /**
     * A policy from JSON, defaults from {@link RolloutPolicy#standard()} for what is left out, and {@code
     * autoPromoteDefault} when {@code autoPromoteAfter} is (an ISO-8601 duration such as {@code "PT30M"}, or null for
     * none).
     */
    public static RolloutPolicy policyOf(JsonNode n, Duration autoPromoteDefault) {
        RolloutPolicy d = RolloutPolicy.standard();
        List<Double> waves = new ArrayList<>();
        if (n.has("waves")) {
            if (!n.get("waves").isArray()) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "waves is an array of cumulative percentages");
            }
            n.get("waves").forEach(w -> waves.add(w.asDouble()));
        } else {
            waves.addAll(d.wavePercents());
        }
        try {
            return new RolloutPolicy(
                    waves,
                    n.path("successHealthyShare").asDouble(d.successHealthyShare()),
                    n.path("successMinReports").asInt(d.successMinReports()),
                    autoPromoteAfter(n, autoPromoteDefault),
                    n.path("errorFailureShare").asDouble(d.errorFailureShare()),
                    n.path("errorMinReports").asInt(d.errorMinReports()));
        } catch (IllegalArgumentException e) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, e.getMessage());
        }
    }

    private static Duration autoPromoteAfter(JsonNode n, Duration autoPromoteDefault) {
        if (!n.has("autoPromoteAfter")) {
            return autoPromoteDefault;
        }
        JsonNode v = n.get("autoPromoteAfter");
        if (v.isNull()) {
            return null;
        }
        try {
            return Duration.parse(v.asText());
        } catch (java.time.format.DateTimeParseException e) {
            throw new Problem(
                    ErrorCode.MALFORMED_PAYLOAD,
                    "autoPromoteAfter is an ISO-8601 duration such as \"PT30M\", or null for no automatic promotion");
        }
    }

    /** The policy of a create request, with the configured soak time when it gives none. */
    public RolloutPolicy requestedPolicy(JsonNode n) {
        return policyOf(n, config.rollouts().autoPromoteAfter().orElse(null));
    }

    static RolloutPolicy policyOf(String json) {
        try {
            return policyOf(JSON.readTree(json), null);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored policy unreadable", e);
        }
    }
}
