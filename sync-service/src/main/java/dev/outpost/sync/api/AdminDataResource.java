package dev.outpost.sync.api;

import dev.outpost.sync.auth.DeviceAuth;
import dev.outpost.sync.store.DataTables;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import java.util.Map;

/** The typed tables at the office (docs/data.md): {@code POST /v1/admin/data/rebuild} (admin credential). */
@Path("/v1/admin/data")
@Produces(MediaType.APPLICATION_JSON)
public class AdminDataResource {
    private final DataTables data;
    private final Pool pool;
    private final DeviceAuth auth;

    public AdminDataResource(DataTables data, Pool pool, DeviceAuth auth) {
        this.data = data;
        this.pool = pool;
        this.auth = auth;
    }

    /**
     * Makes the typed tables again from the row states, in one transaction (queries meanwhile see the old content):
     * after a restore, or to check them. {@code {"schema": "outpost_data", "rows": N}}.
     */
    @POST
    @Path("/rebuild")
    public Uni<Map<String, Object>> rebuild(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        auth.admin(authorization);
        return data.rebuild(pool).map(rows -> Map.of("schema", data.dataSchema(), "rows", rows));
    }
}
