package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.wire.Gzip;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.sync.auth.DeviceAuth;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.sync.SyncService;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** {@code POST /v1/sync}: push and pull in one round trip; JSON or the binary encoding by content negotiation. */
@Path("/v1/sync")
public class SyncResource {
    static final String BINARY = "application/vnd.outpost.v1+cbor";

    private final SyncService sync;
    private final DeviceAuth auth;
    private final SchemaRegistry schemas;
    private final OutpostConfig config;
    private final DistributionSummary bytesIn;
    private final DistributionSummary bytesOut;

    public SyncResource(
            SyncService sync, DeviceAuth auth, SchemaRegistry schemas, OutpostConfig config, MeterRegistry metrics) {
        this.sync = sync;
        this.auth = auth;
        this.schemas = schemas;
        this.config = config;
        this.bytesIn = metrics.summary("outpost.sync.bytes.in");
        this.bytesOut = metrics.summary("outpost.sync.bytes.out");
    }

    @POST
    @Consumes({MediaType.APPLICATION_JSON, BINARY})
    @Produces({MediaType.APPLICATION_JSON, BINARY})
    @Operation(summary = "Push a batch of changes and pull the changes after a cursor (docs/protocol.md)")
    public Uni<Response> sync(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
            @HeaderParam(HttpHeaders.CONTENT_TYPE) String contentType,
            @HeaderParam(HttpHeaders.ACCEPT) String accept,
            @HeaderParam(HttpHeaders.CONTENT_ENCODING) String contentEncoding,
            byte[] sent) {
        return auth.device(authorization).flatMap(device -> {
            if (sent == null || sent.length == 0) {
                throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "empty body: send a sync request");
            }
            bytesIn.record(sent.length);
            byte[] body = inflate(contentEncoding, sent, config.sync().payloadBytesMax());
            WireFormat in = format(contentType);
            WireFormat out = accept != null && accept.contains(BINARY)
                    ? WireFormat.BINARY
                    : accept == null || accept.isBlank() || accept.contains("*/*") ? in : WireFormat.JSON;
            SyncRequest request = schemas.codec().decodeRequest(body, in);
            return sync.sync(device, request).map(response -> {
                byte[] bytes = schemas.codec().encode(response, out);
                bytesOut.record(bytes.length);
                return Response.ok(bytes, out.mediaType())
                        .header(
                                DeviceResource.SCHEMA_VERSION_HEADER,
                                schemas.current().version())
                        .build();
            });
        });
    }

    /**
     * The request body as the client wrote it: {@code sent} itself, or inflated from gzip. Inflating stops at
     * {@code max} bytes, so a small compressed body cannot grow past the payload limit in memory.
     */
    static byte[] inflate(String contentEncoding, byte[] sent, int max) {
        String encoding = contentEncoding == null ? "" : contentEncoding.strip().toLowerCase(java.util.Locale.ROOT);
        if (!encoding.isEmpty() && !encoding.equals("identity") && !encoding.equals("gzip")) {
            throw new Problem(
                    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                    "Content-Encoding '" + contentEncoding + "' is not supported: send gzip or none");
        }
        if (!encoding.equals("gzip")) {
            if (sent.length > max) {
                throw new Problem(ErrorCode.PAYLOAD_TOO_LARGE, "payload larger than " + max + " bytes");
            }
            return sent;
        }
        return Gzip.inflate(sent, max);
    }

    static WireFormat format(String contentType) {
        if (contentType != null && contentType.startsWith(BINARY)) {
            return WireFormat.BINARY;
        }
        if (contentType != null && contentType.startsWith(MediaType.APPLICATION_JSON)) {
            return WireFormat.JSON;
        }
        throw new Problem(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send application/json or " + BINARY);
    }
}
