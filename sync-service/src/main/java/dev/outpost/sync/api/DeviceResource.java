package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.sync.artifact.ArtifactService;
import dev.outpost.sync.auth.DeviceAuth;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.store.ArtifactStore;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.Map;
import java.util.Set;

/**
 * {@code /v1/device}: who the credential belongs to, which scopes it may sync, the schema it should run, and its model
 * install reports.
 */
@Path("/v1/device")
public class DeviceResource {
    static final Set<String> OUTCOMES = Set.of("installed", "failed", "reverted", "rolled-back");

    /** The version of the schema the service runs, on every sync answer and on the schema itself. */
    public static final String SCHEMA_VERSION_HEADER = "Outpost-Schema-Version";

    private final DeviceAuth auth;
    private final ArtifactService artifacts;
    private final SchemaRegistry schemas;
    private final dev.outpost.sync.admin.DeviceRegistry registry;

    public DeviceResource(
            DeviceAuth auth,
            ArtifactService artifacts,
            SchemaRegistry schemas,
            dev.outpost.sync.admin.DeviceRegistry registry) {
        this.auth = auth;
        this.artifacts = artifacts;
        this.schemas = schemas;
        this.registry = registry;
    }

    /**
     * The device changes its own credential: {@code {"deviceId", "token", "scopes", "expiresAt"}}. The token it
     * replaced stays valid for ten minutes (an answer lost on the way is asked for again with it), the one before
     * that is dead. A token with a lifetime gets a new one as long.
     */
    @POST
    @Path("/token")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> rotateToken(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return auth.device(authorization)
                .flatMap(device -> registry.rotate(device.id()).call(r -> auth.forget(device.id())))
                .map(AdminDeviceResource::answer);
    }

    /**
     * The light check-in: the signed assignments this device should act on, without a sync round
     * ({@code {"assignments": [base64...], "serverTimeMs": N}}).
     */
    @GET
    @Path("/assignments")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> assignments(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return auth.device(authorization)
                .flatMap(artifacts::assignmentsFor)
                .map(a -> Map.of("assignments", a, "serverTimeMs", System.currentTimeMillis()));
    }

    /**
     * The schema this service runs, in its JSON form (the YAML file's shape, every column spelled out): a device on
     * an earlier version that this one only adds to upgrades itself with it (the sync answer's
     * {@code Outpost-Schema-Version} header says when).
     */
    @GET
    @Path("/schema")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Response> schema(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return auth.device(authorization)
                .map(d -> Response.ok(SchemaLoader.toJson(schemas.current()), MediaType.APPLICATION_JSON)
                        .header(SCHEMA_VERSION_HEADER, schemas.current().version())
                        .build());
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> whoAmI(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return auth.device(authorization).map(d -> Map.of("deviceId", d.id(), "scopes", d.scopes()));
    }

    /**
     * {@code {"artifact", "fromVersion", "toVersion", "activeVersion", "outcome", "errorCode", "bytesDownloaded"}};
     * outcome is one of installed, failed, reverted, rolled-back.
     */
    @POST
    @Path("/model-reports")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> report(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization, byte[] body) {
        return auth.device(authorization).flatMap(device -> {
            JsonNode n = JsonBodies.object(body);
            String artifact = n.path("artifact").asText("");
            String outcome = n.path("outcome").asText("");
            try {
                Manifest.checkName(artifact);
            } catch (IllegalArgumentException e) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, e.getMessage());
            }
            if (!OUTCOMES.contains(outcome) || !n.path("toVersion").canConvertToLong()) {
                throw new Problem(
                        ErrorCode.MALFORMED_PAYLOAD,
                        "a report needs artifact, toVersion and an outcome among " + OUTCOMES);
            }
            var report = new ArtifactStore.Report(
                    artifact,
                    n.path("fromVersion").canConvertToLong()
                            ? n.get("fromVersion").asLong()
                            : null,
                    n.get("toVersion").asLong(),
                    n.path("activeVersion").canConvertToLong()
                            ? n.get("activeVersion").asLong()
                            : null,
                    outcome,
                    n.path("errorCode").isTextual() ? n.get("errorCode").asText() : null,
                    Math.max(0, n.path("bytesDownloaded").asLong(0)));
            return artifacts
                    .report(device.id(), report)
                    .map(x -> Response.noContent().build());
        });
    }
}
