import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.ManifestBuilder;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.UpdatePlanner;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Build step (run by build-one-file.sh with the build JDK and outpost.jar on the class path): a stand-in for the
 * service's model endpoints, so the "network" AOT cache is recorded from real model installs (a full one, then a
 * differential one with chunk-local deltas) rather than from commands that fail at once. It serves one artifact,
 * "training-model", at version 1 until a device reports an install, then at version 2 (to that device). The endpoints and formats
 * are the service's (docs/artifacts.md); the delta computation follows ArtifactService.computeDeltas.
 *
 * <p>Usage: {@code java -cp outpost.jar TrainingServer.java PORT_FILE}; it writes its port and its root key to PORT_FILE and serves
 * until killed.
 */
public final class TrainingServer {
    private static final String ARTIFACT = "training-model";

    private final SigningKeys root = SigningKeys.generate();
    private final SigningKeys keys = SigningKeys.generate();
    /** The root's delegation of {@link #keys}, as the service serves it: devices are given the root at init. */
    private final String delegation = Base64.getEncoder()
            .encodeToString(new KeyDelegation(
                            List.of(keys.publicKey()),
                            System.currentTimeMillis(),
                            System.currentTimeMillis() + 86_400_000L)
                    .sign(root)
                    .encode());
    private final Map<Sha256, byte[]> frames = new HashMap<>(); // chunk and delta frames by hash
    private final List<byte[]> manifests = new ArrayList<>(); // signed envelopes, [0] = version 1
    private final Map<String, byte[]> deltaIndexes = new HashMap<>(); // "from-to" -> encoded index
    private final Map<String, Integer> desired = new java.util.concurrent.ConcurrentHashMap<>(); // by credential

    public static void main(String[] args) throws Exception {
        TrainingServer t = new TrainingServer();
        t.prepare();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/", t::handle);
        server.start();
        // "PORT ROOT_KEY": the build gives the root key to the training devices' init.
        Files.writeString(Path.of(args[0]), server.getAddress().getPort() + " " + t.root.publicBase64());
    }

    private void prepare() throws IOException {
        byte[] v1 = weights(3 << 20, new Random(2026));
        byte[] v2 = v1.clone();
        Random edits = new Random(7);
        for (int block = 0; block < 6; block++) { // fine-tune a few 64 KiB blocks
            int at = edits.nextInt(v2.length - 65536);
            for (int i = at; i < at + 65536; i += 4) {
                v2[i] ^= (byte) edits.nextInt(4);
            }
        }
        ByteArrayOutputStream inserted = new ByteArrayOutputStream(); // and insert 30 KB at an odd offset
        inserted.write(v2, 0, 1_000_003);
        inserted.write(weights(30_000, new Random(9)));
        inserted.write(v2, 1_000_003, v2.length - 1_000_003);
        Manifest m1 = build(1, v1);
        Manifest m2 = build(2, inserted.toByteArray());
        deltaIndexes.put("1-2", deltas(m1, m2).encode());
    }

    /** Float32 values of a slowly varying signal: compressible like real weights, never all zero. */
    private static byte[] weights(int bytes, Random random) {
        byte[] out = new byte[bytes - bytes % 4];
        for (int i = 0; i < out.length; i += 4) {
            int bits = Float.floatToIntBits((float) (random.nextGaussian() * 0.02));
            out[i] = (byte) bits;
            out[i + 1] = (byte) (bits >>> 8);
            out[i + 2] = (byte) (bits >>> 16);
            out[i + 3] = (byte) (bits >>> 24);
        }
        return out;
    }

    private Manifest build(long version, byte[] data) throws IOException {
        Manifest m = ManifestBuilder.build(ARTIFACT, version, 1_700_000_000_000L, new ByteArrayInputStream(data), (h, raw) -> {
            byte[] frame = ChunkCodec.compress(raw, ChunkCodec.STORE_LEVEL);
            frames.put(h, frame);
            return frame.length;
        });
        manifests.add(SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), keys).encode());
        return m;
    }

    private DeltaIndex deltas(Manifest held, Manifest target) {
        List<DeltaIndex.Entry> entries = new ArrayList<>();
        for (Map.Entry<Integer, int[]> e : new java.util.TreeMap<>(UpdatePlanner.references(held, target)).entrySet()) {
            ChunkRef c = target.chunks().get(e.getKey());
            ByteArrayOutputStream reference = new ByteArrayOutputStream();
            for (int k : e.getValue()) {
                ChunkRef r = held.chunks().get(k);
                reference.writeBytes(ChunkCodec.decompress(frames.get(r.hash()), r.rawLength()));
            }
            byte[] raw = ChunkCodec.decompress(frames.get(c.hash()), c.rawLength());
            byte[] delta = ChunkCodec.compressDelta(raw, reference.toByteArray(), ChunkCodec.DELTA_LEVEL);
            if (delta.length < c.storedLength()) {
                Sha256 hash = Sha256.digest(delta);
                frames.put(hash, delta);
                entries.add(new DeltaIndex.Entry(e.getKey(), e.getValue(), hash, delta.length));
            }
        }
        return new DeltaIndex(held.digest(), target.digest(), entries);
    }

    private void handle(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath();
        String device = String.valueOf(x.getRequestHeaders().getFirst("Authorization"));
        int version = desired.getOrDefault(device, 1);
        String query = x.getRequestURI().getRawQuery();
        x.getRequestBody().readAllBytes();
        byte[] body;
        String type = "application/octet-stream";
        if (path.equals("/v1/artifacts/signing-key")) {
            body = json("{\"keyId\":\"" + keys.keyId() + "\",\"publicKey\":\"" + keys.publicBase64()
                    + "\",\"delegation\":\"" + delegation + "\"}");
            type = "application/json";
        } else if (path.equals("/v1/device/assignments")) {
            byte[] manifest = SignedEnvelope.decode(manifests.get(version - 1)).payload();
            long now = System.currentTimeMillis();
            Assignment a = new Assignment(ARTIFACT, version, Sha256.digest(manifest), now, now + 3_600_000L, false);
            String signed = Base64.getEncoder()
                    .encodeToString(SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, a.encode(), keys).encode());
            body = json("{\"assignments\":[\"" + signed + "\"]}");
            type = "application/json";
        } else if (path.equals("/v1/device/model-reports")) {
            desired.put(device, 2); // the first install is done: offer the next version
            body = json("{}");
            type = "application/json";
        } else if (path.startsWith("/v1/artifacts/" + ARTIFACT + "/versions/") && path.endsWith("/manifest")) {
            body = manifests.get(Integer.parseInt(path.split("/")[5]) - 1);
        } else if (path.equals("/v1/artifacts/" + ARTIFACT + "/deltas") && query != null) {
            body = deltaIndexes.get(query.replace("&format=2", "").replace("from=", "").replace("&to=", "-"));
        } else if (path.startsWith("/v1/chunks/") || path.startsWith("/v1/deltas/")) {
            body = frames.get(Sha256.parse(path.substring(path.lastIndexOf('/') + 1)));
        } else {
            body = null;
        }
        if (body == null) {
            body = json("{\"code\":\"not-found\",\"detail\":\"the training server has no " + path + "\"}");
            x.getResponseHeaders().set("Content-Type", "application/problem+json");
            x.sendResponseHeaders(404, body.length);
        } else {
            x.getResponseHeaders().set("Content-Type", type);
            x.sendResponseHeaders(200, body.length);
        }
        x.getResponseBody().write(body);
        x.close();
    }

    private static byte[] json(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
