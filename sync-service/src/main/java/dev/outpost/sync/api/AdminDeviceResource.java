package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.sync.admin.DeviceRegistry;
import dev.outpost.sync.admin.DeviceView;
import dev.outpost.sync.auth.DeviceAuth;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Device registration and revocation (admin credential). */
@Path("/v1/admin/devices")
@Produces(MediaType.APPLICATION_JSON)
public class AdminDeviceResource {
    private final DeviceRegistry devices;
    private final DeviceAuth auth;

    public AdminDeviceResource(DeviceRegistry devices, DeviceAuth auth) {
        this.devices = devices;
        this.auth = auth;
    }

    /** {@code {"deviceId": "d1", "scopes": ["nakuru"]}} answers 201 {@code {"deviceId", "token", "scopes"}}. */
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> register(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization, byte[] body) {
        auth.admin(authorization);
        JsonNode n = JsonBodies.object(body);
        JsonNode id = n.get("deviceId");
        JsonNode scopes = n.get("scopes");
        if (id == null || !id.isTextual() || scopes == null || !scopes.isArray()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "expected {\"deviceId\": \"...\", \"scopes\": [\"...\"]}");
        }
        List<String> scopeList = new ArrayList<>();
        for (JsonNode s : scopes) {
            if (!s.isTextual()) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "scopes must be strings");
            }
            scopeList.add(s.asText());
        }
        return devices.create(id.asText(), scopeList)
                .map(r -> Response.status(201)
                        .entity(Map.of("deviceId", r.deviceId(), "token", r.token(), "scopes", r.scopes()))
                        .build());
    }

    @GET
    public Uni<List<DeviceView>> list(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        auth.admin(authorization);
        return devices.findAll();
    }

    /** Revokes the device's credential: its next request is refused; its data stays. */
    @DELETE
    @Path("/{deviceId}")
    public Uni<DeviceView> revoke(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization, @PathParam("deviceId") String deviceId) {
        auth.admin(authorization);
        return devices.revoke(deviceId).invoke(revoked -> auth.forget(deviceId));
    }
}
