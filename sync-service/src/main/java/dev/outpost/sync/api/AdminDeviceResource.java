package dev.outpost.sync.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.ErrorCode;
import dev.outpost.sync.admin.DeviceRegistry;
import dev.outpost.sync.admin.DeviceView;
import dev.outpost.sync.auth.CurrentOperator;
import dev.outpost.sync.auth.DeviceAuth;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jboss.logging.Logger;

/** Device registration and revocation (admin credential). */
@Path("/v1/admin/devices")
@Produces(MediaType.APPLICATION_JSON)
public class AdminDeviceResource {
    private final DeviceRegistry devices;
    private final DeviceAuth auth;

    private static final Logger LOG = Logger.getLogger(AdminDeviceResource.class);
    private final CurrentOperator current;

    public AdminDeviceResource(DeviceRegistry devices, DeviceAuth auth, CurrentOperator current) {
        this.current = current;
        this.devices = devices;
        this.auth = auth;
    }

    /**
     * {@code {"deviceId": "d1", "scopes": ["nakuru"], "lifetimeDays": 90}} ({@code lifetimeDays} optional: without it
     * the token lives until revoked) answers 201 {@code {"deviceId", "token", "scopes", "expiresAt"}}.
     */
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> register(byte[] body) {
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
        return devices.create(id.asText(), scopeList, lifetimeDays(n))
                .map(r -> Response.status(201).entity(answer(r)).build());
    }

    static Map<String, Object> answer(DeviceRegistry.Registered r) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        out.put("deviceId", r.deviceId());
        out.put("token", r.token());
        out.put("scopes", r.scopes());
        out.put("expiresAt", r.expiresAt() == null ? null : r.expiresAt().toString());
        return out;
    }

    private static Integer lifetimeDays(JsonNode n) {
        JsonNode days = n.get("lifetimeDays");
        if (days == null || days.isNull()) {
            return null;
        }
        if (!days.isInt()) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "lifetimeDays must be a whole number of days");
        }
        return days.asInt();
    }

    /**
     * An admin's decision to give a revoked device id a new credential ({@code {"lifetimeDays": N}} optional): 200
     * {@code {"deviceId", "token", "scopes", "expiresAt"}}; 409 when the device is not revoked.
     */
    @POST
    @Path("/{deviceId}/reregister")
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> reregister(@PathParam("deviceId") String deviceId, byte[] body) {
        Integer days = body == null || body.length == 0 ? null : lifetimeDays(JsonBodies.object(body));
        return devices.reregister(deviceId, days)
                .call(r -> auth.forget(deviceId))
                .map(AdminDeviceResource::answer);
    }

    @GET
    public Uni<List<DeviceView>> list() {
        return devices.findAll();
    }

    /** Revokes the device's credential: its next request is refused; its data stays. */
    @DELETE
    @Path("/{deviceId}")
    public Uni<DeviceView> revoke(@PathParam("deviceId") String deviceId) {
        String by = current.get().actor();
        return devices.revoke(deviceId)
                .call(revoked -> auth.forget(deviceId))
                .invoke(revoked -> LOG.infof("device %s revoked by %s", deviceId, by));
    }
}
