package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.sync.admin.ConflictService;
import dev.outpost.sync.admin.ConflictService.ConflictRecord;
import dev.outpost.sync.admin.ConflictService.Resolution;
import dev.outpost.sync.auth.CurrentOperator;
import dev.outpost.sync.auth.Operator;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Conflicts a person must review: list them, resolve one (admin credential). */
@Path("/v1/admin/conflicts")
@Produces(MediaType.APPLICATION_JSON)
public class AdminConflictResource {
    private static final int LIMIT_MAX = 1000;

    private final ConflictService conflicts;
    private final CurrentOperator current;

    public AdminConflictResource(ConflictService conflicts, CurrentOperator current) {
        this.conflicts = conflicts;
        this.current = current;
    }

    @GET
    public Uni<List<Map<String, Object>>> list(
            @QueryParam("status") @DefaultValue("open") String status,
            @QueryParam("scope") String scope,
            @QueryParam("limit") @DefaultValue("100") int limit) {
        if (!status.equals("open") && !status.equals("resolved") && !status.equals("all")) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "status is open, resolved or all");
        }
        if (limit < 1 || limit > LIMIT_MAX) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "limit is 1-" + LIMIT_MAX);
        }
        Operator op = current.get();
        String oneScope = scope == null || scope.isEmpty() ? null : scope;
        if (oneScope != null) {
            op.requireScope(oneScope);
        }
        return conflicts
                .find(status.equals("all") ? null : status, oneScope, op.scopeLimit(), limit)
                .map(list -> list.stream().map(AdminConflictResource::view).toList());
    }

    @GET
    @Path("/{id}")
    public Uni<Map<String, Object>> get(@PathParam("id") long id) {
        Operator op = current.get();
        return conflicts.get(id).invoke(c -> op.requireScope(c.scope())).map(AdminConflictResource::view);
    }

    /**
     * {@code {"value": ...}} keeps that value in a review field (closing the conflict everywhere);
     * {@code {"action": "keep-deleted"}} or {@code {"action": "restore"}} settles a delete against an update.
     */
    @POST
    @Path("/{id}/resolve")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> resolve(@PathParam("id") long id, byte[] body) {
        Operator op = current.get();
        JsonNode n = JsonBodies.object(body);
        Resolution resolution;
        if (n.has("value")) {
            try {
                resolution = new Resolution.KeepValue(JsonBodies.JSON.writeValueAsString(n.get("value")));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        } else if (n.path("action").asText().equals("keep-deleted")) {
            resolution = new Resolution.KeepDeleted();
        } else if (n.path("action").asText().equals("restore")) {
            resolution = new Resolution.Restore();
        } else {
            throw new Problem(
                    ErrorCode.MALFORMED_PAYLOAD,
                    "expected {\"value\": ...} or {\"action\": \"keep-deleted\" | \"restore\"}");
        }
        Resolution chosen = resolution;
        // A supervisor settles conflicts of their own scopes only.
        return conflicts
                .get(id)
                .invoke(c -> op.requireScope(c.scope()))
                .flatMap(c -> conflicts.resolve(id, chosen, op.actor()))
                .map(AdminConflictResource::view);
    }

    static Map<String, Object> view(ConflictRecord c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", c.id());
        m.put("table", c.table());
        m.put("rowId", c.rowId());
        m.put("field", c.field().isEmpty() ? null : c.field());
        m.put("kind", c.kind());
        m.put("scope", c.scope());
        m.put("status", c.status());
        try {
            // Stored as the wire form of a one-element conflict list; show its candidates.
            m.put("candidates", JsonBodies.JSON.readTree(c.candidates()).get(0).get("candidates"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        m.put("openedAt", c.openedAt());
        m.put("resolvedAt", c.resolvedAt());
        m.put("resolvedBy", c.resolvedBy());
        return m;
    }
}
