package dev.outpost.sync.api;

import dev.outpost.sync.snapshot.SnapshotBuilder;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.Map;

/** Scope snapshots, on an operator's word (an admin). */
@Path("/v1/admin/snapshots")
public class AdminSnapshotResource {
    private final SnapshotBuilder builder;

    public AdminSnapshotResource(SnapshotBuilder builder) {
        this.builder = builder;
    }

    /**
     * Builds every scope's snapshot now (an operator after a bulk import, or a test), as the timer would: {@code
     * {"built": [{"scope", "sha256", "cursor", "rows", "bytes"}]}}, empty when another replica is building.
     */
    @POST
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> buildNow() {
        return builder.build()
                .map(built -> Map.of(
                        "built",
                        built.stream()
                                .map(b -> Map.of(
                                        "scope", b.scope(),
                                        "sha256", b.sha256().hex(),
                                        "cursor", b.cursor(),
                                        "rows", b.rows(),
                                        "bytes", b.bytes()))
                                .toList()));
    }
}
