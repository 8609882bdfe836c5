package dev.outpost.sync.api;

import dev.outpost.sync.auth.DeviceAuth;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

/**
 * The credential before the body, and no shared caching of what a credential opened:
 *
 * <ul>
 *   <li>A request that carries a body (POST, PUT, PATCH) to a device endpoint ({@code /v1/sync}, {@code /v1/device/})
 *       or an admin one ({@code /v1/admin/}) has its credential checked before its body is read (request filters run
 *       before the body handler): an unknown client cannot make the service buffer megabytes, nor learn anything
 *       from how a payload is judged. The resource checks it again, from the credential cache.
 *   <li>Every answer to a request with a credential that says nothing of caching gets {@code Cache-Control: private,
 *       no-store}: a proxy between a device and the service must not keep one device's data for another.
 * </ul>
 */
public class CredentialFirst {
    private final DeviceAuth auth;

    public CredentialFirst(DeviceAuth auth) {
        this.auth = auth;
    }

    @ServerRequestFilter(priority = Priorities.AUTHENTICATION)
    public Uni<Response> beforeTheBody(ContainerRequestContext request) {
        String method = request.getMethod();
        if (!method.equals("POST") && !method.equals("PUT") && !method.equals("PATCH")) {
            return Uni.createFrom().nullItem();
        }
        String path = request.getUriInfo().getPath();
        String authorization = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (path.startsWith("/v1/admin/")) {
            auth.admin(authorization); // throws the problem answer
            return Uni.createFrom().nullItem();
        }
        if (path.equals("/v1/sync") || path.startsWith("/v1/device/")) {
            return auth.device(authorization).replaceWith((Response) null);
        }
        return Uni.createFrom().nullItem();
    }

    @ServerResponseFilter
    public void privateAnswers(ContainerRequestContext request, ContainerResponseContext response) {
        if (request.getHeaderString(HttpHeaders.AUTHORIZATION) != null
                && !response.getHeaders().containsKey(HttpHeaders.CACHE_CONTROL)) {
            response.getHeaders().putSingle(HttpHeaders.CACHE_CONTROL, "private, no-store");
        }
    }
}
