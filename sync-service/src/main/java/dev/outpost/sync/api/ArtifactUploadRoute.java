package dev.outpost.sync.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.sync.artifact.ArtifactGc;
import dev.outpost.sync.artifact.ArtifactService;
import dev.outpost.sync.auth.AdminPolicy;
import dev.outpost.sync.auth.OperatorAuth;
import dev.outpost.sync.store.OperatorStore;
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
    private final OperatorAuth operators;
    private final OperatorStore store;
    private final ArtifactGc gc;

    public ArtifactUploadRoute(ArtifactService artifacts, OperatorAuth operators, OperatorStore store, ArtifactGc gc) {
        this.artifacts = artifacts;
        this.gc = gc;
        this.operators = operators;
        this.store = store;
    }

    void install(@Observes Router router) {
        router.put(PATH).order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT - 1).handler(this::upload);
    }

    private void upload(RoutingContext ctx) {
        var request = ctx.request();
        request.pause();
        Context context = Vertx.currentContext();
        String name = ctx.pathParam("name");
        String path = request.path();
        // The operator first (a release manager or an admin), then the names, then the body.
        operators
                .authenticate(request.getHeader("Authorization"))
                .invoke(op -> op.require(AdminPolicy.permission("PUT", path)))
                .flatMap(op -> {
                    long v = version(ctx);
                    Sha256 expected = expected(name, request.getHeader(SHA256_HEADER));
                    return artifacts
                            .checkVersionFree(name, v)
                            // Registered as an upload: its chunks are stored before its version, so no collection
                            // of unreferenced chunks runs meanwhile.
                            .flatMap(x -> gc.duringUpload(name, v, () -> {
                                RequestBodyStream body = new RequestBodyStream(request, context);
                                return Uni.createFrom()
                                        .item(() -> {
                                            try {
                                                return artifacts.storeChunks(name, v, body, expected);
                                            } catch (IOException e) {
                                                throw new UncheckedIOException(e);
                                            }
                                        })
                                        .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                                        .flatMap(m -> artifacts.publish(m, op.actor()));
                            }))
                            .call(row -> store.audit(
                                    op.actor(), op.via(), "PUT", path, 201, request.getHeader(RequestIds.HEADER)));
                })
                .subscribe()
                .with(
                        row -> context.runOnContext(ignored -> respond(
                                ctx.response().setStatusCode(201),
                                "application/json",
                                json(ArtifactViews.version(row)))),
                        failure -> context.runOnContext(ignored -> fail(ctx, failure)));
    }

    private static long version(RoutingContext ctx) {
        try {
            long version = Long.parseLong(ctx.pathParam("version"));
            if (version > 0) {
                return version;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw malformed("the version is not a positive number");
    }

    private static Sha256 expected(String name, String sha) {
        try {
            Manifest.checkName(name);
            return sha == null ? null : Sha256.parse(sha);
        } catch (IllegalArgumentException e) {
            throw malformed(e.getMessage());
        }
    }

    private static Problem malformed(String why) {
        return new Problem(
                ErrorCode.MALFORMED_PAYLOAD,
                "expected /v1/admin/artifacts/{name}/versions/{positive number}, a-z0-9._- names and a"
                        + " 64-hex X-Outpost-Sha256: " + why);
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
