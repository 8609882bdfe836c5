package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.ManifestBuilder;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The artifact side of the service in memory (docs/artifacts.md: signed manifests, chunk frames by hash, a delta index
 * per pair of versions), for testing model installs against faults without a service. With {@link #faults} on, a
 * seeded share of fetches drops the link (exit 3) and a share of chunk frames arrives with a flipped byte.
 */
final class FakeArtifactServer implements ArtifactLink {
    final SigningKeys keys = SigningKeys.generate();
    private final Map<String, byte[]> bodies = new ConcurrentHashMap<>();
    private final Map<String, Sha256> manifests = new ConcurrentHashMap<>();
    private final AtomicLong downloaded = new AtomicLong();
    private final Random random;

    volatile boolean faults;
    final AtomicLong drops = new AtomicLong();
    final AtomicLong corrupted = new AtomicLong();

    FakeArtifactServer(long seed) {
        this.random = new Random(seed);
    }

    String publicKey() {
        return Base64.getEncoder().encodeToString(keys.publicKey().getEncoded());
    }

    /** Cuts, compresses and signs a version as the service does on upload, and keeps its frames. */
    void publish(String artifact, long version, byte[] content) {
        try {
            Manifest m =
                    ManifestBuilder.build(artifact, version, 1_000L, new ByteArrayInputStream(content), (hash, raw) -> {
                        byte[] frame = ChunkCodec.compress(raw, ChunkCodec.STORE_LEVEL);
                        bodies.put("v1/chunks/" + hash.hex(), frame);
                        return frame.length;
                    });
            byte[] payload = m.encode();
            bodies.put(
                    "v1/artifacts/" + artifact + "/versions/" + version + "/manifest",
                    SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, payload, keys).encode());
            manifests.put(artifact + "/" + version, Sha256.digest(payload));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A signed assignment of {@code version}, base64 as a sync answer carries it. */
    String assignment(String artifact, long version, long nowMs) {
        Assignment a = new Assignment(
                artifact, version, manifests.get(artifact + "/" + version), nowMs, nowMs + 3_600_000, false);
        return Base64.getEncoder()
                .encodeToString(SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, a.encode(), keys)
                        .encode());
    }

    @Override
    public long bytesDownloaded() {
        return downloaded.get();
    }

    @Override
    public byte[] fetch(String path, int maxBytes) {
        byte[] body = answer(path);
        if (body.length > maxBytes) {
            throw new DeviceException(ExitCode.REFUSED, path + " is larger than " + maxBytes + " bytes");
        }
        if (faults && path.startsWith("v1/chunks/") && chance(30)) {
            corrupted.incrementAndGet();
            body = body.clone();
            body[body.length / 2] ^= 0x5a;
        }
        downloaded.addAndGet(body.length);
        return body;
    }

    @Override
    public void fetchTo(String path, long maxBytes, Path file) {
        byte[] body = fetch(path, (int) Math.min(Integer.MAX_VALUE, maxBytes));
        try {
            Files.write(file, body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String getJson(String path) {
        throw new DeviceException(ExitCode.UNREACHABLE, "no JSON served here: " + path);
    }

    @Override
    public int postJson(String path, String json) {
        return faults && chance(5) ? -1 : 204;
    }

    private byte[] answer(String path) {
        if (faults && chance(25)) {
            drops.incrementAndGet();
            throw new DeviceException(ExitCode.UNREACHABLE, "link dropped on " + path);
        }
        if (path.startsWith("v1/artifacts/") && path.contains("/deltas?")) {
            // No chunk-local deltas here: the plan reuses what the device holds and fetches the rest.
            String artifact = path.substring("v1/artifacts/".length(), path.indexOf("/deltas?"));
            String query = path.substring(path.indexOf('?') + 1);
            long from = Long.parseLong(query.replaceAll(".*from=(\\d+).*", "$1"));
            long to = Long.parseLong(query.replaceAll(".*to=(\\d+).*", "$1"));
            return new DeltaIndex(manifests.get(artifact + "/" + from), manifests.get(artifact + "/" + to), List.of())
                    .encode();
        }
        byte[] body = bodies.get(path);
        if (body == null) {
            throw new DeviceException(ExitCode.REFUSED, "refused by the server: no " + path + " [not-found]");
        }
        return body;
    }

    /** One in {@code n}. */
    private boolean chance(int n) {
        synchronized (random) {
            return random.nextInt(n) == 0;
        }
    }
}
