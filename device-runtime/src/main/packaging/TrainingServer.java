import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.ManifestBuilder;
import dev.outpost.model.artifact.RetrainedModels;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.TensorDelta;
import dev.outpost.model.artifact.TensorLayout;
import dev.outpost.model.artifact.ByteSource;
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
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * Build step (run by build-one-file.sh with the build JDK, outpost.jar and shared-model's test jar on the class path): a
 * stand-in for the service's model endpoints, so the "model" and "network" AOT caches are recorded from real model
 * installs (a full one, then a differential one) rather than from commands that fail at once. It serves
 * "training-model" (raw weights, updated by chunk-local deltas) and one retrained network per precision,
 * "training-tensors-f32" ... "-i8" ({@link RetrainedModels}, small: updated by tensor deltas, whose decoding classes a
 * cache trained without them would load and verify at the start of every update, 25-30 ms). Each artifact is at
 * version 1 until the device reports an install of it, then at version 2 (to that device). The endpoints and formats
 * are the service's (docs/artifacts.md); the delta computation follows ArtifactService.computeDeltas.
 *
 * <p>Usage: {@code java -cp outpost.jar:shared-model-tests.jar TrainingServer.java PORT_FILE}; it writes its port and
 * its root key to PORT_FILE and serves until killed.
 */
public final class TrainingServer {
    private static final String ARTIFACT = "training-model";
    /** The retrained networks' artifacts: this and the precision's name. */
    private static final String TENSORS = "training-tensors-";

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
    private final Map<String, List<byte[]>> manifests = new HashMap<>(); // by artifact: signed, [0] = version 1
    private final Map<String, byte[]> deltaIndexes = new HashMap<>(); // "artifact from-to" -> encoded index
    /** "credential artifact" -> the version served to that device. */
    private final Map<String, Integer> desired = new java.util.concurrent.ConcurrentHashMap<>();

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
        Manifest m1 = build(ARTIFACT, 1, v1);
        Manifest m2 = build(ARTIFACT, 2, inserted.toByteArray());
        deltaIndexes.put(ARTIFACT + " 1-2", deltas(m1, m2, false).encode());
        // 384 wide, two hidden layers: 1.4 MB in float32, trained in a few seconds on two cores.
        RetrainedModels.Pair pair =
                RetrainedModels.train(new RetrainedModels.Recipe(128, 384, 2, 16, 32, 100, 1e-3, 50, 1e-5, 2026));
        Path file = Files.createTempFile("training-tensors", ".safetensors");
        try {
            for (RetrainedModels.Precision p : RetrainedModels.Precision.values()) {
                String artifact = TENSORS + p.name().toLowerCase(Locale.ROOT);
                RetrainedModels.write(pair, false, p, file);
                Manifest t1 = build(artifact, 1, Files.readAllBytes(file));
                RetrainedModels.write(pair, true, p, file);
                Manifest t2 = build(artifact, 2, Files.readAllBytes(file));
                deltaIndexes.put(artifact + " 1-2", deltas(t1, t2, true).encode());
            }
        } finally {
            Files.delete(file);
        }
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

    private Manifest build(String artifact, long version, byte[] data) throws IOException {
        Manifest m = ManifestBuilder.build(artifact, version, 1_700_000_000_000L, new ByteArrayInputStream(data), (h, raw) -> {
            byte[] frame = ChunkCodec.compress(raw, ChunkCodec.STORE_LEVEL);
            frames.put(h, frame);
            return frame.length;
        });
        manifests.computeIfAbsent(artifact, a -> new ArrayList<>())
                .add(SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), keys).encode());
        return m;
    }

    /** Chunk-local deltas for the chunks {@code held} lacks, and with {@code tensors} tensor deltas beside them. */
    private DeltaIndex deltas(Manifest held, Manifest target, boolean tensors) throws IOException {
        List<DeltaIndex.Entry> entries = new ArrayList<>();
        for (Map.Entry<Integer, int[]> e : new java.util.TreeMap<>(UpdatePlanner.references(held, target)).entrySet()) {
            ChunkRef c = target.chunks().get(e.getKey());
            byte[] delta = ChunkCodec.compressDelta(raw(c), reference(held, e.getValue()), ChunkCodec.DELTA_LEVEL);
            offer(entries, e.getKey(), DeltaIndex.Kind.CHUNK_LOCAL, e.getValue(), delta, c);
        }
        if (tensors) {
            TensorDelta.Pairing pairing = new TensorDelta.Pairing(
                    held, TensorLayout.read(contentOf(held)).orElseThrow(), TensorLayout.read(contentOf(target)).orElseThrow());
            Manifest.Index heldIndex = held.index();
            for (int i = 0; i < target.chunkCount(); i++) {
                ChunkRef c = target.chunks().get(i);
                Optional<TensorDelta.Mapping> mapping = heldIndex.firstOf(target, i) >= 0
                        ? Optional.empty()
                        : TensorDelta.map(pairing, target.offset(i), c.rawLength(), TensorDelta.TRANSFORM);
                if (mapping.isPresent()) {
                    byte[] ref = reference(held, mapping.get().references());
                    byte[] delta = TensorDelta.encode(raw(c), mapping.get().segments(), ref, ref.length, TensorDelta.LEVEL);
                    offer(entries, i, DeltaIndex.Kind.TENSOR, mapping.get().references(), delta, c);
                }
            }
            entries.sort(java.util.Comparator.comparingInt(DeltaIndex.Entry::target));
        }
        return new DeltaIndex(held.digest(), target.digest(), entries);
    }

    private void offer(List<DeltaIndex.Entry> entries, int target, DeltaIndex.Kind kind, int[] refs, byte[] delta, ChunkRef c) {
        if (delta.length < c.storedLength()) {
            Sha256 hash = Sha256.digest(delta);
            frames.put(hash, delta);
            entries.add(new DeltaIndex.Entry(target, kind, refs, hash, delta.length));
        }
    }

    private byte[] raw(ChunkRef c) {
        return ChunkCodec.decompress(frames.get(c.hash()), c.rawLength());
    }

    private byte[] reference(Manifest held, int[] refs) {
        ByteArrayOutputStream reference = new ByteArrayOutputStream();
        for (int k : refs) {
            reference.writeBytes(raw(held.chunks().get(k)));
        }
        return reference.toByteArray();
    }

    /** A version's content, read back from its chunk frames. */
    private ByteSource contentOf(Manifest m) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (ChunkRef c : m.chunks()) {
            all.writeBytes(raw(c));
        }
        return ByteSource.of(all.toByteArray());
    }

    private void handle(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath();
        String device = String.valueOf(x.getRequestHeaders().getFirst("Authorization"));
        String query = x.getRequestURI().getRawQuery();
        String request = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        byte[] body;
        String type = "application/octet-stream";
        if (path.equals("/v1/artifacts/signing-key")) {
            body = json("{\"keyId\":\"" + keys.keyId() + "\",\"publicKey\":\"" + keys.publicBase64()
                    + "\",\"delegation\":\"" + delegation + "\"}");
            type = "application/json";
        } else if (path.equals("/v1/device/assignments")) {
            List<String> signed = new ArrayList<>();
            long now = System.currentTimeMillis();
            for (Map.Entry<String, List<byte[]>> artifact : manifests.entrySet()) {
                int version = desired.getOrDefault(device + " " + artifact.getKey(), 1);
                byte[] manifest = SignedEnvelope.decode(artifact.getValue().get(version - 1)).payload();
                Assignment a = new Assignment(
                        artifact.getKey(), version, Sha256.digest(manifest), now, now + 3_600_000L, false);
                signed.add("\"" + Base64.getEncoder()
                        .encodeToString(SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, a.encode(), keys).encode()) + "\"");
            }
            body = json("{\"assignments\":[" + String.join(",", signed) + "]}");
            type = "application/json";
        } else if (path.equals("/v1/device/model-reports")) {
            for (String artifact : manifests.keySet()) {
                if (request.contains("\"" + artifact + "\"")) {
                    desired.put(device + " " + artifact, 2); // its first install is done: offer the next version
                }
            }
            body = json("{}");
            type = "application/json";
        } else if (path.startsWith("/v1/artifacts/") && path.endsWith("/manifest")) {
            List<byte[]> versions = manifests.get(path.split("/")[3]);
            body = versions == null ? null : versions.get(Integer.parseInt(path.split("/")[5]) - 1);
        } else if (path.startsWith("/v1/artifacts/") && path.endsWith("/deltas") && query != null) {
            body = deltaIndexes.get(path.split("/")[3] + " "
                    + query.replace("&format=2", "").replace("from=", "").replace("&to=", "-"));
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
