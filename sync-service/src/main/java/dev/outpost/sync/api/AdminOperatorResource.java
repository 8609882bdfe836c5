package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.sync.auth.CurrentOperator;
import dev.outpost.sync.auth.Operator;
import dev.outpost.sync.auth.OperatorAuth;
import dev.outpost.sync.auth.Role;
import dev.outpost.sync.auth.Tokens;
import dev.outpost.sync.store.OperatorStore;
import dev.outpost.sync.store.OperatorStore.OperatorRow;
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
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Operators (admins only), who one is ({@code whoami}, every role) and the audit trail (every role): docs/SECURITY.md,
 * "Operators and roles".
 */
@Path("/v1/admin")
@Produces(MediaType.APPLICATION_JSON)
public class AdminOperatorResource {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._@-]{0,63}");
    private static final int AUDIT_LIMIT_MAX = 1000;

    private final OperatorStore store;
    private final OperatorAuth auth;
    private final CurrentOperator current;

    public AdminOperatorResource(OperatorStore store, OperatorAuth auth, CurrentOperator current) {
        this.store = store;
        this.auth = auth;
        this.current = current;
    }

    /** The operator the credential proves: {@code {"name", "role", "scopes", "via"}}. */
    @GET
    @Path("/whoami")
    public Map<String, Object> whoami() {
        Operator op = current.get();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", op.name());
        m.put("role", op.role().key);
        m.put("scopes", op.scopes());
        m.put("via", op.via());
        return m;
    }

    /**
     * {@code {"name": "amina", "role": "supervisor", "scopes": ["nakuru"], "oidcSubject": "..."}} ({@code scopes} for a
     * supervisor only, who needs at least one; {@code oidcSubject} optional: the identity provider's subject this
     * operator signs in as) answers 201 with the operator; 409 {@code already-exists} when the name or subject is
     * taken.
     */
    @POST
    @Path("/operators")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> create(byte[] body) {
        JsonNode n = JsonBodies.object(body);
        String name = text(n, "name", true);
        if (!NAME.matcher(name).matches()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "an operator name is 1-64 of a-z 0-9 . _ @ -, not " + name);
        }
        Role role = Role.of(text(n, "role", true));
        List<String> scopes = new ArrayList<>();
        JsonNode s = n.get("scopes");
        if (s != null && !s.isNull()) {
            if (!s.isArray()) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "scopes is an array of strings");
            }
            for (JsonNode e : s) {
                if (!e.isTextual() || e.asText().isBlank()) {
                    throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "scopes is an array of strings");
                }
                scopes.add(e.asText());
            }
        }
        if (role == Role.SUPERVISOR && scopes.isEmpty()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "a supervisor supervises at least one scope");
        }
        if (role != Role.SUPERVISOR && !scopes.isEmpty()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "only a supervisor is kept to scopes");
        }
        String subject = text(n, "oidcSubject", false);
        return store.create(name, role.key, scopes, subject, current.get().actor())
                .map(created -> Response.status(201)
                        .entity(view(created.orElseThrow(() -> new Problem(
                                ErrorCode.ALREADY_EXISTS,
                                "an operator named '" + name + "' or bound to that OIDC subject exists already"))))
                        .build());
    }

    @GET
    @Path("/operators")
    public Uni<List<Map<String, Object>>> list() {
        return store.list()
                .map(rows -> rows.stream().map(AdminOperatorResource::view).toList());
    }

    /**
     * A new API token for the operator, shown once: {@code {"lifetimeDays": 90}} optional (without it the token lives
     * until the operator is disabled). 201 {@code {"operator", "token", "expiresAt"}}; only its SHA-256 is stored.
     */
    @POST
    @Path("/operators/{name}/tokens")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> token(@PathParam("name") String name, byte[] body) {
        JsonNode n = body.length == 0 ? JsonBodies.JSON.createObjectNode() : JsonBodies.object(body);
        JsonNode days = n.get("lifetimeDays");
        if (days != null && !days.isNull() && (!days.canConvertToInt() || days.asInt() < 1 || days.asInt() > 3660)) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "lifetimeDays is 1-3660");
        }
        Integer lifetime = days == null || days.isNull() ? null : days.asInt();
        String token = OperatorAuth.TOKEN_PREFIX + Tokens.newToken().substring("opd_".length());
        return store.byName(name)
                .map(found -> found.filter(o -> o.disabledAt() == null)
                        .orElseThrow(() -> new Problem(ErrorCode.NOT_FOUND, "no active operator '" + name + "'")))
                .flatMap(o -> store.addToken(name, Tokens.hash(token), lifetime))
                .map(expires -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("operator", name);
                    m.put("token", token);
                    m.put("expiresAt", expires);
                    return Response.status(201).entity(m).build();
                });
    }

    /** Disables the operator: every token of theirs and their OIDC identity are refused from now on. */
    @POST
    @Path("/operators/{name}/disable")
    public Uni<Map<String, Object>> disable(@PathParam("name") String name) {
        return store.disable(name)
                .call(found -> {
                    if (!found) {
                        throw new Problem(ErrorCode.NOT_FOUND, "no operator '" + name + "'");
                    }
                    return auth.forget(name);
                })
                .flatMap(x -> store.byName(name))
                .map(o -> view(o.orElseThrow()));
    }

    /**
     * The audit trail, newest first: every admin request that changed something, with who made it and how they proved
     * it. {@code ?actor=NAME}, {@code ?before=ID} (the last id of the page before), {@code ?limit=N} (default 100).
     */
    @GET
    @Path("/audit")
    public Uni<List<Map<String, Object>>> audit(
            @QueryParam("actor") String actor,
            @QueryParam("before") Long before,
            @QueryParam("limit") @DefaultValue("100") int limit) {
        if (limit < 1 || limit > AUDIT_LIMIT_MAX) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "limit is 1-" + AUDIT_LIMIT_MAX);
        }
        return store.auditTrail(actor, before, limit)
                .map(rows -> rows.stream()
                        .map(r -> {
                            Map<String, Object> m = new LinkedHashMap<>();
                            m.put("id", r.id());
                            m.put("at", r.at());
                            m.put("actor", r.actor());
                            m.put("via", r.via());
                            m.put("method", r.method());
                            m.put("path", r.path());
                            m.put("status", r.status());
                            return m;
                        })
                        .toList());
    }

    private static Map<String, Object> view(OperatorRow o) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", o.name());
        m.put("role", o.role());
        m.put("scopes", o.scopes());
        m.put("oidcSubject", o.oidcSubject());
        m.put("createdAt", o.createdAt());
        m.put("createdBy", o.createdBy());
        m.put("disabledAt", o.disabledAt());
        return m;
    }

    private static String text(JsonNode n, String field, boolean required) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "'" + field + "' is required");
            }
            return null;
        }
        if (!v.isTextual() || v.asText().isBlank() || v.asText().length() > 256) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "'" + field + "' is a string of 1-256 characters");
        }
        return v.asText();
    }
}
