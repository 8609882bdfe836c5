package dev.outpost.sync.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.sync.artifact.ArtifactService;
import dev.outpost.sync.auth.DeviceAuth;
import io.quarkus.vertx.http.runtime.RouteConstants;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * {@code PUT /v1/admin/artifacts/{name}/versions/{version}}: the body is the artifact file, streamed (any size up to
 * {@code outpost.artifacts.upload-bytes-max}, never whole in memory) through the chunker into the chunk store. A plain
 * Vert.x route ordered before the HTTP layer's body-size limit, which exists for the JSON endpoints.
 * Optional header {@code X-Outpost-Sha256}: the file's SHA-256; a mismatch refuses the version.
 */
@ApplicationScoped
public class ArtifactUploadRoute {
    private static final Logger LOG = Logger.getLogger(ArtifactUploadRoute.class);
    static final String PATH = "/v1/admin/artifacts/:name/versions/:version";
    static final String SHA256_HEADER = "X-Outpost-Sha256";

    private final ArtifactService artifacts;
    private final DeviceAuth auth;

    public ArtifactUploadRoute(ArtifactService artifacts, DeviceAuth auth) {
        this.artifacts = artifacts;
        this.auth = auth;
    }

    void install(@Observes Router router) {
        router.put(PATH).order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT - 1).handler(this::upload);
    }

    private void upload(RoutingContext ctx) {
        var request = ctx.request();
        request.pause();
        Context context = Vertx.currentContext();
        String name = ctx.pathParam("name");
        long version;
        Sha256 expected;
        try {
            auth.admin(request.getHeader("Authorization"));
            try {
                Manifest.checkName(name);
                version = Long.parseLong(ctx.pathParam("version"));
                if (version <= 0) {
                    throw new NumberFormatException();
                }
                String sha = request.getHeader(SHA256_HEADER);
                expected = sha == null ? null : Sha256.parse(sha);
            } catch (IllegalArgumentException e) {
                throw new Problem(
                        ErrorCode.MALFORMED_PAYLOAD,
                        "expected /v1/admin/artifacts/{name}/versions/{positive number}, a-z0-9._- names and a"
                                + " 64-hex X-Outpost-Sha256: " + e.getMessage());
            }
        } catch (OutpostException e) {
            fail(ctx, e);
            return;
        }
        long v = version;
        artifacts
                .checkVersionFree(name, v)
                .flatMap(x -> {
                    RequestBodyStream body = new RequestBodyStream(request, context);
                    return Uni.createFrom()
                            .item(() -> {
                                try {
                                    return artifacts.storeChunks(name, v, body, expected);
                                } catch (IOException e) {
                                    throw new UncheckedIOException(e);
                                }
                            })
                            .runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
                })
                .flatMap(m -> artifacts.publish(m, "admin"))
                .subscribe()
                .with(
                        row -> context.runOnContext(ignored -> respond(
                                ctx.response().setStatusCode(201),
                                "application/json",
                                json(ArtifactViews.version(row)))),
                        failure -> context.runOnContext(ignored -> fail(ctx, failure)));
    }

    private static void fail(RoutingContext ctx, Throwable failure) {
        int status;
        ErrorCode code;
        String message;
        Map<String, Object> details = Map.of();
        if (failure instanceof Problem p) {
            status = p.status();
            code = p.code();
            message = p.getMessage();
            details = p.details();
        } else if (failure instanceof OutpostException e) {
            status = Problem.statusOf(e.code());
            code = e.code();
            message = e.getMessage();
        } else if (failure instanceof UncheckedIOException e) {
            status = 400;
            code = ErrorCode.MALFORMED_PAYLOAD;
            message = "the upload did not complete: " + e.getCause().getMessage();
        } else {
            LOG.error("artifact upload failed", failure);
            status = 500;
            code = ErrorCode.INTERNAL;
            message = "internal error; the service log has the details";
        }
        HttpServerResponse response = ctx.response().setStatusCode(status);
        // The rest of a refused body is not read: close the connection after the answer.
        response.putHeader("Connection", "close");
        respond(response, ProblemMapper.PROBLEM_JSON, ProblemMapper.body(status, code, message, details));
    }

    private static void respond(HttpServerResponse response, String type, byte[] body) {
        if (!response.ended()) {
            response.putHeader("Content-Type", type).end(io.vertx.core.buffer.Buffer.buffer(body));
        }
    }

    private static byte[] json(Object value) {
        try {
            return JsonBodies.JSON.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
