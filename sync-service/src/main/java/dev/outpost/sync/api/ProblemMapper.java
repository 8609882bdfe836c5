package dev.outpost.sync.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jboss.logging.Logger;
import org.jboss.logging.MDC;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Turns every failure into problem JSON with a stable code; unexpected ones are logged, never shown. */
public class ProblemMapper {
    private static final Logger LOG = Logger.getLogger(ProblemMapper.class);
    public static final String PROBLEM_JSON = "application/problem+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    @ServerExceptionMapper
    public Response outpost(OutpostException e) {
        if (e instanceof Problem p) {
            return problem(p.status(), p.code(), p.getMessage(), p.details());
        }
        return problem(Problem.statusOf(e.code()), e.code(), e.getMessage(), Map.of());
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        ErrorCode code = switch (status) {
            case 404, 405 -> ErrorCode.NOT_FOUND;
            case 413 -> ErrorCode.PAYLOAD_TOO_LARGE;
            case 415, 406 -> ErrorCode.UNSUPPORTED_MEDIA_TYPE;
            case 401 -> ErrorCode.UNAUTHENTICATED;
            default -> status < 500 ? ErrorCode.MALFORMED_PAYLOAD : ErrorCode.INTERNAL;
        };
        String message = status == 404
                ? "no such resource"
                : Response.Status.fromStatusCode(status) == null
                        ? "request refused"
                        : Response.Status.fromStatusCode(status)
                                .getReasonPhrase()
                                .toLowerCase(java.util.Locale.ROOT);
        return problem(status, code, message, Map.of());
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e) {
        LOG.errorf(e, "unexpected failure (request %s)", MDC.get(RequestIds.MDC_KEY));
        return problem(500, ErrorCode.INTERNAL, "internal error; the request id in the logs has the details", Map.of());
    }

    static Response problem(int status, ErrorCode code, String message, Map<String, Object> details) {
        return Response.status(status)
                .type(PROBLEM_JSON)
                .entity(body(status, code, message, details))
                .build();
    }

    /** The problem JSON bytes, also for routes outside the REST layer (the streaming upload). */
    static byte[] body(int status, ErrorCode code, String message, Map<String, Object> details) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "https://outpost.dev/problems/" + code.key());
        body.put("title", code.key());
        body.put("status", status);
        body.put("code", code.key());
        body.put("detail", message);
        Object requestId = MDC.get(RequestIds.MDC_KEY);
        if (requestId != null) {
            body.put("requestId", requestId);
        }
        details.forEach(body::putIfAbsent);
        try {
            return JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException("problem body not serializable", ex);
        }
    }
}
