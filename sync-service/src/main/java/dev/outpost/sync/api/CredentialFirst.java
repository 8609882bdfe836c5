package dev.outpost.sync.api;

import dev.outpost.sync.auth.AdminPolicy;
import dev.outpost.sync.auth.CurrentOperator;
import dev.outpost.sync.auth.DeviceAuth;
import dev.outpost.sync.auth.Operator;
import dev.outpost.sync.auth.OperatorAuth;
import dev.outpost.sync.store.OperatorStore;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

/**
 * The credential before the body, the operator's role before the resource, an audit record after, and no shared
 * caching of what a credential opened:
 *
 * <ul>
 *   <li>Every admin request ({@code /v1/admin/}) has its operator authenticated ({@link OperatorAuth}) and checked
 *       against {@link AdminPolicy} before anything else is done for it, body or resource; the resource finds the
 *       operator in {@link CurrentOperator}. A request with a body (POST, PUT, PATCH) to a device endpoint
 *       ({@code /v1/sync}, {@code /v1/device/}) has its device credential checked before its body is read: an unknown
 *       client cannot make the service buffer megabytes, nor learn anything from how a payload is judged.
 *   <li>Every admin request that may change something (not GET or HEAD) and was answered below 400 is recorded in
 *       {@code audit_event} with the operator who made it and how they proved who they are.
 *   <li>Every answer to a request with a credential that says nothing of caching gets {@code Cache-Control: private,
 *       no-store}: a proxy between a device and the service must not keep one device's data for another.
 * </ul>
 */
public class CredentialFirst {
    private static final Logger LOG = Logger.getLogger(CredentialFirst.class);

    private final DeviceAuth devices;
    private final OperatorAuth operators;
    private final CurrentOperator current;
    private final OperatorStore store;

    public CredentialFirst(DeviceAuth devices, OperatorAuth operators, CurrentOperator current, OperatorStore store) {
        this.devices = devices;
        this.operators = operators;
        this.current = current;
        this.store = store;
    }

    @ServerRequestFilter(priority = Priorities.AUTHENTICATION)
    public Uni<Response> beforeTheBody(ContainerRequestContext request) {
        String method = request.getMethod();
        String path = request.getUriInfo().getPath();
        String authorization = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (path.startsWith("/v1/admin/")) {
            return operators.authenticate(authorization).map(op -> {
                op.require(AdminPolicy.permission(method, path));
                current.set(op);
                return null;
            });
        }
        if (!method.equals("POST") && !method.equals("PUT") && !method.equals("PATCH")) {
            return Uni.createFrom().nullItem();
        }
        if (path.equals("/v1/sync") || path.startsWith("/v1/device/")) {
            return devices.device(authorization).replaceWith((Response) null);
        }
        return Uni.createFrom().nullItem();
    }

    @ServerResponseFilter
    public Uni<Void> afterTheAnswer(ContainerRequestContext request, ContainerResponseContext response) {
        if (request.getHeaderString(HttpHeaders.AUTHORIZATION) != null
                && !response.getHeaders().containsKey(HttpHeaders.CACHE_CONTROL)) {
            response.getHeaders().putSingle(HttpHeaders.CACHE_CONTROL, "private, no-store");
        }
        String method = request.getMethod();
        Operator op = current.orNull();
        if (op == null || method.equals("GET") || method.equals("HEAD") || response.getStatus() >= 400) {
            return Uni.createFrom().voidItem();
        }
        Object requestId = request.getProperty(RequestIds.MDC_KEY);
        return store.audit(
                        op.actor(),
                        op.via(),
                        method,
                        request.getUriInfo().getPath(),
                        response.getStatus(),
                        requestId == null ? null : requestId.toString())
                .onFailure()
                .recoverWithItem(e -> {
                    // The action is done; its answer goes out. The log keeps what the table could not.
                    LOG.errorf(
                            e,
                            "audit record lost: %s %s %s by %s",
                            method,
                            request.getUriInfo().getPath(),
                            response.getStatus(),
                            op.actor());
                    return null;
                });
    }
}
