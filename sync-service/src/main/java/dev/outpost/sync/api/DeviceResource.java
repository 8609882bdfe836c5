package dev.outpost.sync.api;

import dev.outpost.sync.auth.DeviceAuth;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import java.util.Map;

/** {@code GET /v1/device}: who the credential belongs to and which scopes it may sync. */
@Path("/v1/device")
public class DeviceResource {
    private final DeviceAuth auth;

    public DeviceResource(DeviceAuth auth) {
        this.auth = auth;
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> whoAmI(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return auth.device(authorization).map(d -> Map.of("deviceId", d.id(), "scopes", d.scopes()));
    }
}
