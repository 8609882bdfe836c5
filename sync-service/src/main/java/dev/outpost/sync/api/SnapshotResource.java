package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.artifact.ChunkStore;
import dev.outpost.sync.auth.DeviceAuth;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Scope snapshots for devices (docs/protocol.md, "Snapshots"): the latest of each of the device's scopes, and the
 * files themselves by ranges, so a cut download resumes.
 */
@Path("/v1/snapshots")
public class SnapshotResource {
    private final Pool pool;
    private final ChunkStore chunks;
    private final DeviceAuth auth;

    public SnapshotResource(Pool pool, ChunkStore chunks, DeviceAuth auth) {
        this.pool = pool;
        this.chunks = chunks;
        this.auth = auth;
    }

    /**
     * {@code {"snapshots": [{"scope", "sha256", "cursor", "schemaVersion", "rows", "bytes", "builtAt"}]}}: the
     * latest snapshot of each of the device's scopes that has one.
     */
    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> latest(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return auth.device(authorization)
                .flatMap(
                        device -> pool.preparedQuery("select distinct on (scope) sha256, scope, cursor, schema_version,"
                                        + " rows, bytes, built_at from scope_snapshot where scope = any($1)"
                                        + " order by scope, built_at desc")
                                .execute(Tuple.of(device.scopes().toArray(String[]::new))))
                .map(rows -> {
                    List<Map<String, Object>> out = new ArrayList<>();
                    rows.forEach(r -> {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("scope", r.getString("scope"));
                        m.put("sha256", r.getString("sha256"));
                        m.put("cursor", r.getString("cursor"));
                        m.put("schemaVersion", r.getInteger("schema_version"));
                        m.put("rows", r.getLong("rows"));
                        m.put("bytes", r.getLong("bytes"));
                        m.put("builtAt", r.getOffsetDateTime("built_at").toString());
                        out.add(m);
                    });
                    return Map.of("snapshots", out);
                });
    }

    /** The snapshot file (whole or a range); only a device of its scope may read it. */
    @GET
    @Path("/{hash}")
    @Produces(ArtifactResource.OCTETS)
    @Blocking
    public Response file(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
            @HeaderParam("Range") String range,
            @HeaderParam(HttpHeaders.IF_NONE_MATCH) String ifNoneMatch,
            @PathParam("hash") String hash) {
        var device = auth.device(authorization).await().atMost(java.time.Duration.ofSeconds(10));
        var rows = pool.preparedQuery("select scope from scope_snapshot where sha256 = $1")
                .execute(Tuple.of(hash))
                .await()
                .atMost(java.time.Duration.ofSeconds(10));
        if (rows.size() == 0) {
            throw new Problem(ErrorCode.NOT_FOUND, "no snapshot " + hash);
        }
        String scope = rows.iterator().next().getString("scope");
        if (!device.mayAccess(scope)) {
            throw new Problem(ErrorCode.OUT_OF_SCOPE, "snapshot " + hash + " is of scope '" + scope + "'");
        }
        return Blobs.serve(chunks, ChunkStore.Kind.SNAPSHOT, hash, range, ifNoneMatch);
    }
}
