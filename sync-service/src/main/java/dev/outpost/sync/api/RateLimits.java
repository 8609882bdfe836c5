package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.auth.Tokens;
import dev.outpost.sync.config.OutpostConfig;
import io.vertx.core.http.HttpServerRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.HttpHeaders;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

/**
 * Per-device and per-address rate limits, and a brake on guessing credentials (docs/SECURITY.md): a request past a
 * limit is answered 429 {@code rate-limited} with {@code Retry-After} before anything else is done for it. Buckets
 * live in this replica's memory (bounded: forgotten all at once past {@link #BUCKETS_MAX}), so the limits are per
 * replica. Devices back off on 429 as on any answer that says "later".
 */
@ApplicationScoped
public class RateLimits {
    static final int BUCKETS_MAX = 200_000;

    private final OutpostConfig.Limits limits;
    private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

    public RateLimits(OutpostConfig config) {
        this.limits = config.limits();
    }

    /** A token bucket: {@code perMinute} deep, refilled evenly. */
    private static final class Bucket {
        private final double perNano;
        private final double depth;
        private double tokens;
        private long at;

        Bucket(int perMinute, long now) {
            this.perNano = perMinute / 60e9;
            this.depth = perMinute;
            this.tokens = perMinute;
            this.at = now;
        }

        /** Takes a token (when {@code take}); 0 when there was one, else the nanoseconds until there is. */
        synchronized long use(long now, boolean take) {
            tokens = Math.min(depth, tokens + (now - at) * perNano);
            at = now;
            if (tokens >= 1) {
                if (take) {
                    tokens -= 1;
                }
                return 0;
            }
            return (long) Math.ceil((1 - tokens) / perNano);
        }
    }

    private long use(String key, int perMinute, boolean take) {
        if (buckets.size() > BUCKETS_MAX) {
            buckets.clear();
        }
        long now = System.nanoTime();
        return buckets.computeIfAbsent(key, k -> new Bucket(perMinute, now)).use(now, take);
    }

    /** Null when the request may go on; else the 429 answer. */
    @ServerRequestFilter(preMatching = true, priority = 100)
    public jakarta.ws.rs.core.Response limit(ContainerRequestContext request, HttpServerRequest http) {
        if (!limits.enabled()) {
            return null;
        }
        String address =
                http.remoteAddress() == null ? "?" : http.remoteAddress().hostAddress();
        String authorization = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        String path = request.getUriInfo().getPath();
        long wait = use("a:" + address, limits.addressPerMinute(), true);
        String what = "requests from " + address;
        if (wait == 0 && authorization != null) {
            wait = use("f:" + address, limits.authFailuresPerMinute(), false);
            what = "refused credentials from " + address;
        }
        if (wait == 0 && authorization != null && (path.equals("/v1/sync") || path.startsWith("/v1/device/"))) {
            String token = Tokens.bearer(authorization);
            if (token != null) {
                wait = use("d:" + HexFormat.of().formatHex(Tokens.hash(token)), limits.devicePerMinute(), true);
                what = "requests from this device";
            }
        }
        if (wait == 0) {
            return null;
        }
        long seconds = Math.max(1, (wait + 999_999_999L) / 1_000_000_000L);
        return jakarta.ws.rs.core.Response.fromResponse(ProblemMapper.problem(
                        429,
                        ErrorCode.RATE_LIMITED,
                        "too many " + what + ": try again in " + seconds + " s",
                        Map.of("retryAfterSeconds", seconds)))
                .header("Retry-After", Long.toString(seconds))
                .build();
    }

    /** A refused credential (401; 403 on the admin API: not the admin token) counts against its address. */
    @ServerResponseFilter
    public void countRefusals(
            ContainerRequestContext request, ContainerResponseContext response, HttpServerRequest http) {
        int status = response.getStatus();
        boolean refusedCredential = status == 401
                || (status == 403 && request.getUriInfo().getPath().startsWith("/v1/admin/"));
        if (!limits.enabled() || !refusedCredential) {
            return;
        }
        String address =
                http.remoteAddress() == null ? "?" : http.remoteAddress().hostAddress();
        use("f:" + address, limits.authFailuresPerMinute(), true);
    }
}
