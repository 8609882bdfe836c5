package dev.outpost.sync.api;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.sync.store.FleetStore;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fleet at a glance (admin credential): counts, then a page of devices with last sync, sync lag, open conflicts
 * in their scopes and each model's version and health as the device last reported it.
 */
@Path("/v1/admin/fleet")
@Produces(MediaType.APPLICATION_JSON)
public class AdminFleetResource {
    private static final int LIMIT_MAX = 500;
    private static final TypeReference<Map<String, Object>> MODEL = new TypeReference<>() {};

    private final FleetStore fleet;

    public AdminFleetResource(FleetStore fleet) {
        this.fleet = fleet;
    }

    /**
     * {@code ?after=<deviceId>&q=<part of an id>&limit=N} answers {@code {"summary": {...}, "devices": [...],
     * "next": <last id, or null on the last page>}}.
     */
    @GET
    public Uni<Map<String, Object>> get(
            @QueryParam("after") @DefaultValue("") String after,
            @QueryParam("q") @DefaultValue("") String query,
            @QueryParam("limit") @DefaultValue("100") int limit) {
        if (limit < 1 || limit > LIMIT_MAX) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "limit is 1-" + LIMIT_MAX);
        }
        return Uni.combine()
                .all()
                .unis(fleet.summary(), fleet.devices(after, query, limit))
                .with((summary, devices) -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("summary", summary);
                    m.put("lagCountMax", FleetStore.LAG_COUNT_MAX);
                    m.put(
                            "devices",
                            devices.stream().map(AdminFleetResource::view).toList());
                    m.put("next", devices.size() == limit ? devices.getLast().deviceId() : null);
                    return m;
                });
    }

    private static Map<String, Object> view(FleetStore.DeviceRow d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("deviceId", d.deviceId());
        m.put("scopes", d.scopes());
        m.put("createdAt", d.createdAt());
        m.put("revokedAt", d.revokedAt());
        m.put("lastSyncAt", d.lastSyncAt());
        m.put("schemaVersion", d.schemaVersion());
        m.put("syncLagChanges", d.syncLagChanges());
        m.put("openConflicts", d.openConflicts());
        List<Map<String, Object>> models = new java.util.ArrayList<>();
        try {
            for (JsonNode n : JsonBodies.JSON.readTree(d.modelsJson())) {
                Map<String, Object> model = JsonBodies.JSON.convertValue(n, MODEL);
                model.put("health", health(n.path("outcome").asText()));
                models.add(model);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        m.put("models", models);
        return m;
    }

    /** installed: healthy; failed or reverted (by the device itself): failing; rolled-back: healthy on the old one. */
    static String health(String outcome) {
        return switch (outcome) {
            case "installed", "rolled-back" -> "healthy";
            case "failed", "reverted" -> "failing";
            default -> "unknown";
        };
    }
}
