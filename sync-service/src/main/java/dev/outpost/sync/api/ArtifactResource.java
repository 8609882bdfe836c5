package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.sync.artifact.ArtifactKeys;
import dev.outpost.sync.artifact.ArtifactService;
import dev.outpost.sync.artifact.ChunkStore;
import dev.outpost.sync.auth.DeviceAuth;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What devices fetch to install a model: signed manifests, delta indexes, chunk and delta frames (all immutable,
 * ETag = hash, HTTP Range) and the public signing key. Install reports go to {@link DeviceResource}.
 */
@Path("/v1")
public class ArtifactResource {
    static final String OCTETS = MediaType.APPLICATION_OCTET_STREAM;

    private final ArtifactService artifacts;
    private final ChunkStore chunks;
    private final DeviceAuth auth;
    private final ArtifactKeys keys;

    public ArtifactResource(ArtifactService artifacts, ChunkStore chunks, DeviceAuth auth, ArtifactKeys keys) {
        this.artifacts = artifacts;
        this.chunks = chunks;
        this.auth = auth;
        this.keys = keys;
    }

    @GET
    @Path("/artifacts/signing-key")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, String>> signingKey(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return auth.device(authorization).map(d -> {
            var answer = new java.util.LinkedHashMap<String, String>();
            answer.put("keyId", keys.keys().keyId());
            answer.put("publicKey", keys.keys().publicBase64());
            keys.delegation()
                    .ifPresent(e -> answer.put(
                            "delegation", java.util.Base64.getEncoder().encodeToString(e)));
            return answer;
        });
    }

    @GET
    @Path("/artifacts/{name}/versions/{version}/manifest")
    @Produces(OCTETS)
    public Uni<Response> manifest(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
            @HeaderParam("Range") String range,
            @HeaderParam(HttpHeaders.IF_NONE_MATCH) String ifNoneMatch,
            @PathParam("name") String name,
            @PathParam("version") long version) {
        return auth.device(authorization)
                .flatMap(d -> artifacts.version(name, version))
                .flatMap(row -> artifacts
                        .servedManifest(row)
                        // The tag names the signing key too: a manifest signed again after a rotation is other bytes.
                        .map(envelope -> bytes(
                                envelope,
                                row.manifestSha256() + "."
                                        + SignedEnvelope.view(envelope).keyId(),
                                range,
                                ifNoneMatch)));
    }

    @GET
    @Path("/artifacts/{name}/deltas")
    @Produces(OCTETS)
    public Uni<Response> deltaIndex(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
            @HeaderParam("Range") String range,
            @PathParam("name") String name,
            @QueryParam("from") long from,
            @QueryParam("to") long to,
            @QueryParam("format") @DefaultValue("1") int format) {
        // Format 1 for devices from before tensor deltas: the same index without its tensor entries.
        return auth.device(authorization)
                .flatMap(d -> {
                    if (format != 1 && format != 2) {
                        throw new Problem(
                                ErrorCode.MALFORMED_PAYLOAD,
                                "format is 1 (chunk-local deltas) or 2 (with tensor deltas)");
                    }
                    return artifacts.deltaIndex(d, name, from, to);
                })
                .map(index -> format == 2 ? index : DeltaIndex.decode(index).chunkLocalOnly())
                .map(index -> bytes(index, Sha256.digest(index).hex(), range, null));
    }

    @GET
    @Path("/chunks/{hash}")
    @Produces(OCTETS)
    @Blocking
    public Response chunk(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
            @HeaderParam("Range") String range,
            @HeaderParam(HttpHeaders.IF_NONE_MATCH) String ifNoneMatch,
            @PathParam("hash") String hash) {
        return blob(ChunkStore.Kind.CHUNK, authorization, range, ifNoneMatch, hash);
    }

    @GET
    @Path("/deltas/{hash}")
    @Produces(OCTETS)
    @Blocking
    public Response delta(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
            @HeaderParam("Range") String range,
            @HeaderParam(HttpHeaders.IF_NONE_MATCH) String ifNoneMatch,
            @PathParam("hash") String hash) {
        return blob(ChunkStore.Kind.DELTA, authorization, range, ifNoneMatch, hash);
    }

    /**
     * Several chunk and delta frames in one answer (docs/artifacts.md, "Frames in one request"): {@code list} names up
     * to {@link #FRAMES_MAX} of them as {@code chunk:<sha256>} or {@code delta:<sha256>}, comma-separated; the body
     * is each frame in that order after its length (4 bytes, big-endian). A retrained model's update is a thousand
     * deltas of 45 KB, and a request's own cost, on both sides, was more than its frame's. Immutable like the frames
     * (its ETag is the hash of the list) and resumable with Range; a frame the store does not hold is a 404 naming it.
     */
    @GET
    @Path("/frames")
    @Produces(OCTETS)
    @Blocking
    public Response frames(
            @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
            @HeaderParam("Range") String range,
            @HeaderParam(HttpHeaders.IF_NONE_MATCH) String ifNoneMatch,
            @QueryParam("list") String list) {
        auth.device(authorization).await().atMost(java.time.Duration.ofSeconds(10));
        String[] names = list == null || list.isEmpty() ? new String[0] : list.split(",", -1);
        if (names.length == 0 || names.length > FRAMES_MAX) {
            throw new Problem(
                    ErrorCode.MALFORMED_PAYLOAD,
                    "list names 1 to " + FRAMES_MAX + " frames (chunk:<sha256> or delta:<sha256>, comma-separated)");
        }
        List<ChunkStore.Blob> blobs = new ArrayList<>(names.length);
        for (String name : names) {
            int colon = name.indexOf(':');
            String kindText = colon < 0 ? "" : name.substring(0, colon);
            String hashText = name.substring(colon + 1);
            ChunkStore.Kind kind = switch (kindText) {
                case "chunk" -> ChunkStore.Kind.CHUNK;
                case "delta" -> ChunkStore.Kind.DELTA;
                default ->
                    throw new Problem(
                            ErrorCode.MALFORMED_PAYLOAD, "'" + name + "' is not chunk:<sha256> or delta:<sha256>");
            };
            blobs.add(Blobs.find(chunks, kind, hashText));
        }
        return bytes(
                Blobs.concatenate(blobs),
                Sha256.digest(list.getBytes(StandardCharsets.UTF_8)).hex(),
                range,
                ifNoneMatch);
    }

    /** Frames in one {@link #frames} request at most: 16 of the largest are 4.7 MB. */
    static final int FRAMES_MAX = 16;

    private Response blob(
            ChunkStore.Kind kind, String authorization, String range, String ifNoneMatch, String hashText) {
        // Blocking on a worker thread: the credential check waits for its query here, bounded.
        auth.device(authorization).await().atMost(java.time.Duration.ofSeconds(10));
        return Blobs.serve(chunks, kind, hashText, range, ifNoneMatch);
    }

    private static Response bytes(byte[] content, String etag, String range, String ifNoneMatch) {
        if (ByteRanges.notModified(ifNoneMatch, etag)) {
            return ByteRanges.immutable(Response.notModified(), etag).build();
        }
        ByteRanges.Range r = ByteRanges.parse(range, content.length);
        if (r == null) {
            return ByteRanges.immutable(Response.ok(content, OCTETS), etag).build();
        }
        byte[] part = Arrays.copyOfRange(content, (int) r.first(), (int) r.last() + 1);
        return ByteRanges.partial(part, r, content.length, etag);
    }
}
