package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import jakarta.ws.rs.container.ContainerRequestContext;
import java.util.List;
import java.util.Map;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * Refuses, before any route, a path or query parameter that holds a control character once decoded ({@code %00},
 * say): no id, name or filter of Outpost's has one, and PostgreSQL refuses a NUL in text, which would otherwise
 * surface as a 500 from whichever query got it first (found by {@code HostileInputIT}).
 */
public class PathGuard {
    @ServerRequestFilter(preMatching = true)
    public void refuseControlCharacters(ContainerRequestContext request) {
        if (hasControl(request.getUriInfo().getPath())) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "the request path holds a control character");
        }
        for (Map.Entry<String, List<String>> p :
                request.getUriInfo().getQueryParameters().entrySet()) {
            if (hasControl(p.getKey()) || p.getValue().stream().anyMatch(PathGuard::hasControl)) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "a query parameter holds a control character");
            }
        }
    }

    private static boolean hasControl(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return true;
            }
        }
        return false;
    }
}
