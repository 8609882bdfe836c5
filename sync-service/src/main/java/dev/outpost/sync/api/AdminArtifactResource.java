package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.sync.artifact.ArtifactGc;
import dev.outpost.sync.artifact.ArtifactService;
import dev.outpost.sync.auth.CurrentOperator;
import dev.outpost.sync.store.ArtifactStore;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Artifact versions and the desired version (admin credential). Uploads go through {@link ArtifactUploadRoute}:
 * {@code PUT /v1/admin/artifacts/{name}/versions/{version}} with the file as body.
 */
@Path("/v1/admin/artifacts")
@Produces(MediaType.APPLICATION_JSON)
public class AdminArtifactResource {
    private final ArtifactService artifacts;
    private final ArtifactStore store;
    private final CurrentOperator current;
    private final ArtifactGc gc;

    public AdminArtifactResource(
            ArtifactService artifacts, ArtifactStore store, CurrentOperator current, ArtifactGc gc) {
        this.artifacts = artifacts;
        this.gc = gc;
        this.store = store;
        this.current = current;
    }

    /** {@code {"versions": [...], "desired": [...]}}: every version with sizes and dedup savings. */
    @GET
    public Uni<Map<String, Object>> list() {
        return artifacts
                .versions()
                .flatMap(versions -> artifacts.desired().map(desired -> {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put(
                            "versions",
                            versions.stream().map(ArtifactViews::version).toList());
                    out.put(
                            "desired",
                            desired.stream().map(ArtifactViews::desired).toList());
                    return out;
                }));
    }

    @GET
    @Path("/{name}/versions/{version}")
    public Uni<Map<String, Object>> version(@PathParam("name") String name, @PathParam("version") long version) {
        return artifacts
                .version(name, version)
                .flatMap(v -> artifacts.deltasInto(name, version).map(deltas -> {
                    Map<String, Object> m = ArtifactViews.version(v);
                    m.put(
                            "deltasFrom",
                            deltas.stream()
                                    .map(d -> Map.of("version", d.version(), "deltaBytes", d.deltaBytes()))
                                    .toList());
                    return m;
                }));
    }

    /**
     * {@code {"version": N}}: every device should run version N. Lower than the current desired version is a
     * rollback: the signed assignment then allows devices to go down to it.
     */
    @POST
    @Path("/{name}/desired")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> desire(@PathParam("name") String name, byte[] body) {
        JsonNode n = JsonBodies.object(body);
        if (!n.path("version").canConvertToLong() || n.get("version").asLong() <= 0) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "expected {\"version\": N} with N a version number");
        }
        return artifacts
                .setDesired(name, n.get("version").asLong(), current.get().actor())
                .map(ArtifactViews::desired);
    }

    /**
     * Deletes a version nothing needs any more (409 {@code version-in-use} says what still does), then collects the
     * chunks and deltas no remaining version refers to; a collection that cannot run now (an upload in progress)
     * runs with the next retention look.
     */
    @DELETE
    @Path("/{name}/versions/{version}")
    public Uni<Map<String, Object>> delete(@PathParam("name") String name, @PathParam("version") long version) {
        return store.deleteVersion(name, version, current.get().actor())
                .flatMap(x -> gc.collect(COLLECT_PER_DELETE))
                .map(c -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("artifact", name);
                    m.put("version", version);
                    m.put("deleted", true);
                    m.put("collected", c.ran() ? Map.of("chunks", c.chunks(), "deltas", c.deltas()) : null);
                    return m;
                });
    }

    /** Blobs of each kind a deletion collects before it answers; the rest go with the next retention looks. */
    static final int COLLECT_PER_DELETE = 1_000;

    /** What each device last reported for this artifact. */
    @GET
    @Path("/{name}/devices")
    public Uni<List<Map<String, Object>>> devices(@PathParam("name") String name) {
        return store.deviceModels(name);
    }
}
