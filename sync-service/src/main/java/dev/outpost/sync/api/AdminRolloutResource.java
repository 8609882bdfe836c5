package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.rollout.WaveReport;
import dev.outpost.sync.artifact.ArtifactService;
import dev.outpost.sync.auth.CurrentOperator;
import dev.outpost.sync.rollout.RolloutService;
import dev.outpost.sync.store.RolloutStore;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Staged rollouts (admin credential): create, then {@code start}, {@code promote}, {@code pause}, {@code resume},
 * {@code rollback}; the status shows each wave's devices and reports, and every change with who made it.
 */
@Path("/v1/admin/rollouts")
@Produces(MediaType.APPLICATION_JSON)
public class AdminRolloutResource {
    private final RolloutService rollouts;
    private final ArtifactService artifacts;
    private final CurrentOperator current;

    public AdminRolloutResource(RolloutService rollouts, ArtifactService artifacts, CurrentOperator current) {
        this.rollouts = rollouts;
        this.artifacts = artifacts;
        this.current = current;
    }

    /**
     * {@code {"artifact", "version", "previousVersion" (default: the desired version), "scopes": [...], "waves": [1,
     * 10, 50, 100], "successHealthyShare", "successMinReports", "autoPromoteAfter" (ISO-8601, e.g.
     * "PT30M"; default off), "errorFailureShare",
     * "errorMinReports"}} answers 201 with the draft.
     */
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> create(byte[] body) {
        String actor = current.get().actor();
        JsonNode n = JsonBodies.object(body);
        if (!n.path("artifact").isTextual()
                || !n.path("version").canConvertToLong()
                || !n.path("scopes").isArray()) {
            throw new Problem(
                    ErrorCode.MALFORMED_PAYLOAD,
                    "expected {\"artifact\": \"...\", \"version\": N, \"scopes\": [\"...\"]}");
        }
        List<String> scopes = new ArrayList<>();
        n.get("scopes").forEach(s -> scopes.add(s.asText()));
        Long previous = n.path("previousVersion").canConvertToLong()
                ? n.get("previousVersion").asLong()
                : null;
        return rollouts.create(
                        n.get("artifact").asText(),
                        n.get("version").asLong(),
                        previous,
                        scopes,
                        rollouts.requestedPolicy(n),
                        actor)
                // The rollout's devices will all want the same deltas: have them ready before it starts.
                .invoke(s -> artifacts.prepareDeltas(
                        s.rollout().artifact(),
                        s.rollout().previousVersion(),
                        s.rollout().version()))
                .map(s -> Response.status(201).entity(view(s)).build());
    }

    @GET
    public Uni<List<Map<String, Object>>> list() {
        return rollouts.findAll()
                .map(rows -> rows.stream().map(AdminRolloutResource::summary).toList());
    }

    @GET
    @Path("/{id}")
    public Uni<Map<String, Object>> get(@PathParam("id") long id) {
        return rollouts.status(id).map(AdminRolloutResource::view);
    }

    /** {@code start}, {@code promote}, {@code pause}, {@code resume} or {@code rollback}; 409 when not allowed now. */
    @POST
    @Path("/{id}/{action}")
    public Uni<Map<String, Object>> act(@PathParam("id") long id, @PathParam("action") String action) {
        String actor = current.get().actor();
        return rollouts.act(id, action, actor).map(AdminRolloutResource::view);
    }

    static Map<String, Object> summary(RolloutStore.RolloutRow r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", r.id());
        m.put("artifact", r.artifact());
        m.put("version", r.version());
        m.put("previousVersion", r.previousVersion());
        m.put("scopes", r.scopes());
        m.put(
                "status",
                r.state().status().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        m.put("openWaves", r.state().openWaves());
        m.put("reason", r.state().reason());
        m.put("createdAt", r.createdAt().toString());
        m.put("createdBy", r.createdBy());
        m.put("updatedAt", r.updatedAt().toString());
        m.put("waveOpenedAt", r.waveOpenedAt().toString());
        return m;
    }

    static Map<String, Object> view(RolloutService.Status s) {
        Map<String, Object> m = summary(s.rollout());
        m.put("policy", RolloutService.policyView(s.policy()));
        List<Map<String, Object>> waves = new ArrayList<>();
        for (int i = 0; i < s.waves().size(); i++) {
            WaveReport w = s.waves().get(i);
            Map<String, Object> wave = new LinkedHashMap<>();
            wave.put("wave", i + 1);
            wave.put("percent", s.policy().wavePercents().get(i));
            wave.put("open", i < s.rollout().state().openWaves());
            wave.put("devices", w.devices());
            wave.put("healthy", w.healthy());
            wave.put("failed", w.failed());
            wave.put("pending", w.devices() - w.reports());
            waves.add(wave);
        }
        m.put("waves", waves);
        m.put(
                "events",
                s.events().stream()
                        .map(e -> {
                            Map<String, Object> ev = new LinkedHashMap<>();
                            ev.put("at", e.at().toString());
                            ev.put("actor", e.actor());
                            ev.put("action", e.action());
                            ev.put(
                                    "status",
                                    e.status()
                                            .toLowerCase(java.util.Locale.ROOT)
                                            .replace('_', '-'));
                            ev.put("openWaves", e.openWaves());
                            ev.put("detail", e.detail());
                            return ev;
                        })
                        .toList());
        return m;
    }
}
