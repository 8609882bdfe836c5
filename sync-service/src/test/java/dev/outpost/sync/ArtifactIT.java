package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.RetrainedModels;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.SyntheticWeights;
import dev.outpost.model.artifact.TensorDelta;
import dev.outpost.model.artifact.UpdatePlanner;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Artifact upload, signed manifests, chunk/delta serving with Range, desired versions and reports. */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class ArtifactIT {
    private static final int SIZE = 6 << 20;

    @Test
    void aDeviceRebuildsV2FromV1PlusDeltasAndNewChunksOnlyAndEverythingVerifies() {
        String name = unique("crop");
        byte[] v1 = SyntheticWeights.bytes(11, SIZE, false);
        byte[] v2 = SyntheticWeights.bytes(11, SIZE, true);
        upload(name, 1, v1).then().statusCode(201).body("sizeBytes", equalTo(v1.length));
        upload(name, 2, v2)
                .then()
                .statusCode(201)
                .body("dedupSavedBytes", greaterThan(SIZE / 2))
                .body("newStoredBytes", greaterThan(0));
        TestDevice d = TestDevice.register("model", "nakuru");
        PublicKey key = signingKey(d);

        Manifest m1 = manifest(d, key, name, 1);
        Manifest m2 = manifest(d, key, name, 2);
        assertEquals(Sha256.digest(v2), m2.sha256());
        // A delta job runs only into the version a device is assigned: nothing is computed before v2 is desired.
        given().header("Authorization", "Bearer " + d.token)
                .get("/v1/artifacts/" + name + "/deltas?from=1&to=2")
                .then()
                .statusCode(503)
                .body("code", equalTo("unavailable"));
        desire(name, 2).then().statusCode(200);
        byte[] indexBytes = get(d, "/v1/artifacts/" + name + "/deltas?from=1&to=2", 200);
        DeltaIndex index = DeltaIndex.decode(indexBytes);
        UpdatePlanner.Plan plan = UpdatePlanner.plan(m1, m2, index);

        long[] ho = m1.offsets();
        long[] to = m2.offsets();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long downloaded = 0;
        for (UpdatePlanner.Step step : plan.steps()) {
            ChunkRef c = m2.chunks().get(step.target());
            byte[] raw;
            switch (step) {
                case UpdatePlanner.Step.Reuse r ->
                    raw = Arrays.copyOfRange(v1, (int) ho[r.held()], (int) ho[r.held() + 1]);
                case UpdatePlanner.Step.Copy cp -> {
                    byte[] soFar = out.toByteArray();
                    raw = Arrays.copyOfRange(soFar, (int) to[cp.earlier()], (int) to[cp.earlier() + 1]);
                }
                case UpdatePlanner.Step.Delta dl -> {
                    byte[] frame = get(d, "/v1/deltas/" + dl.delta().hash().hex(), 200);
                    downloaded += frame.length;
                    ByteArrayOutputStream ref = new ByteArrayOutputStream();
                    for (int k : dl.delta().references()) {
                        ref.write(v1, (int) ho[k], (int) (ho[k + 1] - ho[k]));
                    }
                    raw = ChunkCodec.applyDelta(frame, ref.toByteArray(), c.rawLength());
                }
                case UpdatePlanner.Step.Fetch f -> {
                    byte[] frame = get(d, "/v1/chunks/" + c.hash().hex(), 200);
                    downloaded += frame.length;
                    raw = ChunkCodec.decompress(frame, c.rawLength());
                }
            }
            ChunkCodec.verify(raw, c.hash(), "chunk " + step.target());
            out.writeBytes(raw);
        }
        assertArrayEquals(v2, out.toByteArray());
        assertEquals(plan.downloadBytes(), downloaded);
        assertTrue(downloaded < m2.storedSize() / 4, downloaded + " of " + m2.storedSize());
        // Asked again, the same index comes from the database.
        assertArrayEquals(indexBytes, get(d, "/v1/artifacts/" + name + "/deltas?from=1&to=2", 200));
    }

    @Test
    void aRetrainedTensorFileGetsTensorDeltasThatOnlyDevicesAskingForFormatTwoAreGiven(@TempDir Path dir)
            throws Exception {
        String name = unique("tuned");
        RetrainedModels.Pair pair =
                RetrainedModels.train(new RetrainedModels.Recipe(32, 256, 3, 8, 16, 60, 1e-3, 40, 1e-5, 5));
        RetrainedModels.write(pair, false, RetrainedModels.Precision.F16, dir.resolve("v1"));
        RetrainedModels.write(pair, true, RetrainedModels.Precision.F16, dir.resolve("v2"));
        byte[] v1 = Files.readAllBytes(dir.resolve("v1"));
        byte[] v2 = Files.readAllBytes(dir.resolve("v2"));
        upload(name, 1, v1).then().statusCode(201);
        upload(name, 2, v2).then().statusCode(201);
        desire(name, 2).then().statusCode(200);
        TestDevice d = TestDevice.register("model", "nakuru");
        PublicKey key = signingKey(d);
        Manifest m1 = manifest(d, key, name, 1);
        Manifest m2 = manifest(d, key, name, 2);

        DeltaIndex both = DeltaIndex.decode(get(d, "/v1/artifacts/" + name + "/deltas?from=1&to=2&format=2", 200));
        byte[] oldBytes = get(d, "/v1/artifacts/" + name + "/deltas?from=1&to=2", 200);
        DeltaIndex old = DeltaIndex.decode(oldBytes);
        assertEquals(1, oldBytes[4], "format 1 for a device that does not ask for 2");
        assertTrue(old.entries().stream().allMatch(e -> e.kind() == DeltaIndex.Kind.CHUNK_LOCAL));
        assertTrue(
                both.entries().stream().anyMatch(e -> e.kind() == DeltaIndex.Kind.TENSOR),
                "a retrained safetensors pair has tensor deltas");
        assertEquals(
                old.entries(),
                both.entries().stream()
                        .filter(e -> e.kind() == DeltaIndex.Kind.CHUNK_LOCAL)
                        .toList());

        // Each tensor delta, decoded against the held chunks it names, is the signed target chunk.
        long[] ho = m1.offsets();
        for (DeltaIndex.Entry e : both.entries()) {
            if (e.kind() != DeltaIndex.Kind.TENSOR) {
                continue;
            }
            byte[] frame = get(d, "/v1/deltas/" + e.hash().hex(), 200);
            assertEquals(e.length(), frame.length);
            ByteArrayOutputStream ref = new ByteArrayOutputStream();
            for (int k : e.references()) {
                ref.write(v1, (int) ho[k], (int) (ho[k + 1] - ho[k]));
            }
            ChunkRef c = m2.chunks().get(e.target());
            ChunkCodec.verify(
                    TensorDelta.decode(frame, ref.toByteArray(), ref.size(), c.rawLength()),
                    c.hash(),
                    "tensor delta for chunk " + e.target());
        }
        long before = UpdatePlanner.plan(m1, m2, old).downloadBytes();
        long after = UpdatePlanner.plan(m1, m2, both).downloadBytes();
        assertTrue(after < before * 0.8, after + " bytes with tensor deltas against " + before);

        given().header("Authorization", "Bearer " + d.token)
                .get("/v1/artifacts/" + name + "/deltas?from=1&to=2&format=3")
                .then()
                .statusCode(400)
                .body("code", equalTo("malformed-payload"));
    }

    @Test
    void chunksAreServedWithRangesImmutableCachingAndConditionalGets() {
        String name = unique("range");
        byte[] v1 = SyntheticWeights.bytes(12, 1 << 20, false);
        upload(name, 1, v1).then().statusCode(201);
        TestDevice d = TestDevice.register("range", "nakuru");
        Manifest m = manifest(d, signingKey(d), name, 1);
        String hash = m.chunks().getFirst().hash().hex();
        byte[] whole = get(d, "/v1/chunks/" + hash, 200);

        var partial = given().header("Authorization", "Bearer " + d.token)
                .header("Range", "bytes=100-")
                .get("/v1/chunks/" + hash);
        partial.then()
                .statusCode(206)
                .header("Content-Range", "bytes 100-" + (whole.length - 1) + "/" + whole.length)
                .header("ETag", "\"" + hash + "\"")
                .header("Cache-Control", org.hamcrest.Matchers.containsString("immutable"));
        assertArrayEquals(Arrays.copyOfRange(whole, 100, whole.length), partial.asByteArray());
        given().header("Authorization", "Bearer " + d.token)
                .header("Range", "bytes=" + whole.length + "-")
                .get("/v1/chunks/" + hash)
                .then()
                .statusCode(416)
                .body("code", equalTo("range-not-satisfiable"));
        given().header("Authorization", "Bearer " + d.token)
                .header("If-None-Match", "\"" + hash + "\"")
                .get("/v1/chunks/" + hash)
                .then()
                .statusCode(304);
        given().get("/v1/chunks/" + hash).then().statusCode(401);
        get(d, "/v1/chunks/" + "0".repeat(64), 404);
    }

    @Test
    void severalFramesComeInOneRequestInTheOrderAskedResumableAndBounded() {
        String name = unique("frames");
        byte[] v1 = SyntheticWeights.bytes(13, 2 << 20, false);
        byte[] v2 = SyntheticWeights.bytes(13, 2 << 20, true);
        upload(name, 1, v1).then().statusCode(201);
        upload(name, 2, v2).then().statusCode(201);
        desire(name, 2).then().statusCode(200);
        TestDevice d = TestDevice.register("frames", "nakuru");
        Manifest m = manifest(d, signingKey(d), name, 2);
        DeltaIndex index = DeltaIndex.decode(get(d, "/v1/artifacts/" + name + "/deltas?from=1&to=2", 200));
        assertTrue(!index.entries().isEmpty(), "the pair has deltas");
        String c0 = m.chunks().get(0).hash().hex();
        String c1 = m.chunks().get(1).hash().hex();
        String delta = index.entries().getFirst().hash().hex();
        // Mixed kinds, one named twice: each frame as its own request serves it, in the order asked.
        List<byte[]> expected = List.of(
                get(d, "/v1/chunks/" + c1, 200),
                get(d, "/v1/deltas/" + delta, 200),
                get(d, "/v1/chunks/" + c0, 200),
                get(d, "/v1/chunks/" + c1, 200));
        String list = "chunk:" + c1 + ",delta:" + delta + ",chunk:" + c0 + ",chunk:" + c1;
        byte[] body = get(d, "/v1/frames?list=" + list, 200);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body);
        for (byte[] frame : expected) {
            byte[] got = new byte[b.getInt()];
            b.get(got);
            assertArrayEquals(frame, got);
        }
        assertEquals(0, b.remaining());
        // Resumable like a single frame: the rest from a byte on, under the same ETag.
        var rest = given().header("Authorization", "Bearer " + d.token)
                .header("Range", "bytes=1000-")
                .get("/v1/frames?list=" + list);
        rest.then().statusCode(206).header("ETag", org.hamcrest.Matchers.notNullValue());
        assertArrayEquals(Arrays.copyOfRange(body, 1000, body.length), rest.asByteArray());
        // Bounded and checked: a clear refusal, never a partial answer.
        String seventeen = String.join(",", java.util.Collections.nCopies(17, "chunk:" + c0));
        problem(d, "/v1/frames?list=" + seventeen, 400, "malformed-payload");
        problem(d, "/v1/frames?list=", 400, "malformed-payload");
        problem(d, "/v1/frames?list=blob:" + c0, 400, "malformed-payload");
        problem(d, "/v1/frames?list=chunk:" + c0 + ",delta:" + c0, 404, "not-found");
        given().get("/v1/frames?list=chunk:" + c0).then().statusCode(401);
    }

    private static void problem(TestDevice d, String path, int status, String code) {
        given().header("Authorization", "Bearer " + d.token)
                .get(path)
                .then()
                .statusCode(status)
                .body("code", equalTo(code));
    }

    @Test
    void versionsAreImmutableAndABadUploadLeavesNothingBehind() {
        String name = unique("immutable");
        byte[] v1 = SyntheticWeights.bytes(13, 1 << 20, false);
        upload(name, 1, v1).then().statusCode(201);
        upload(name, 1, v1).then().statusCode(409).body("code", equalTo("already-exists"));

        given().header("Authorization", TestDevice.ADMIN)
                .header("X-Outpost-Sha256", "0".repeat(64))
                .body(v1)
                .put("/v1/admin/artifacts/" + name + "/versions/2")
                .then()
                .statusCode(422)
                .body("code", equalTo("artifact-invalid"));
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/artifacts/" + name + "/versions/2")
                .then()
                .statusCode(404);
        given().body(v1)
                .put("/v1/admin/artifacts/" + name + "/versions/3")
                .then()
                .statusCode(401);
        TestDevice d = TestDevice.register("nonadmin", "nakuru");
        given().header("Authorization", "Bearer " + d.token)
                .body(v1)
                .put("/v1/admin/artifacts/" + name + "/versions/3")
                .then()
                .statusCode(403);
        given().header("Authorization", TestDevice.ADMIN)
                .body(v1)
                .put("/v1/admin/artifacts/BAD NAME/versions/1")
                .then()
                .statusCode(400)
                .body("code", equalTo("malformed-payload"));
    }

    @Test
    void anUploadLargerThanTheHttpBodyLimitStreamsButOneOverTheArtifactLimitIsRefused() {
        String name = unique("large");
        // 40 MiB: over the JSON endpoints' 32M body limit, under the test profile's 48 MiB artifact limit.
        upload(name, 1, new SyntheticWeightsStream(14, 40L << 20))
                .then()
                .statusCode(201)
                .body("sizeBytes", equalTo(40 << 20));
        upload(name, 2, new SyntheticWeightsStream(14, 49L << 20))
                .then()
                .statusCode(413)
                .body("code", equalTo("payload-too-large"));
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/artifacts/" + name + "/versions/2")
                .then()
                .statusCode(404);
    }

    @Test
    void theDesiredVersionReachesDevicesAsASignedAssignmentAndALowerOneIsARollback() throws InterruptedException {
        String name = unique("desired");
        upload(name, 1, SyntheticWeights.bytes(15, 1 << 20, false)).then().statusCode(201);
        upload(name, 2, SyntheticWeights.bytes(15, 1 << 20, true)).then().statusCode(201);
        TestDevice d = TestDevice.register("desired", "nakuru");
        PublicKey key = signingKey(d);

        desire(name, 2).then().statusCode(200).body("rollback", equalTo(false));
        Assignment up = assignment(d, key, name);
        assertEquals(2, up.version());
        assertTrue(!up.rollback() && up.expiresAtMs() > System.currentTimeMillis());
        Manifest m2 = manifest(d, key, name, 2);
        assertEquals(Sha256.digest(m2.encode()), up.manifestSha256());

        desire(name, 1).then().statusCode(200).body("rollback", equalTo(true));
        // Desiring version 1 after 2 prepared the deltas 2 -> 1 without any device asking for them.
        List<Integer> ready = null;
        for (long deadline = System.nanoTime() + 30_000_000_000L;
                (ready == null || ready.isEmpty()) && System.nanoTime() < deadline; ) {
            ready = given().header("Authorization", TestDevice.ADMIN)
                    .get("/v1/admin/artifacts/" + name + "/versions/1")
                    .then()
                    .statusCode(200)
                    .extract()
                    .path("deltasFrom.version");
            if (ready.isEmpty()) {
                Thread.sleep(100);
            }
        }
        assertEquals(List.of(2), ready, "deltas from version 2 prepared in the background");
        Assignment down = assignment(d, key, name);
        assertEquals(1, down.version());
        assertTrue(down.rollback());
        desire(name, 9).then().statusCode(404);
    }

    @Test
    void deviceReportsAreKeptAndShownToTheAdmin() {
        String name = unique("report");
        TestDevice d = TestDevice.register("reporter", "nakuru");
        given().header("Authorization", "Bearer " + d.token)
                .contentType("application/json")
                .body(Map.of(
                        "artifact", name,
                        "fromVersion", 1,
                        "toVersion", 2,
                        "activeVersion", 1,
                        "outcome", "reverted",
                        "errorCode", "health-check-failed",
                        "bytesDownloaded", 12345))
                .post("/v1/device/model-reports")
                .then()
                .statusCode(204);
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/artifacts/" + name + "/devices")
                .then()
                .statusCode(200)
                .body("[0].deviceId", equalTo(d.id))
                .body("[0].activeVersion", equalTo(1))
                .body("[0].outcome", equalTo("reverted"))
                .body("[0].errorCode", equalTo("health-check-failed"));
        given().header("Authorization", "Bearer " + d.token)
                .contentType("application/json")
                .body(Map.of("artifact", name, "toVersion", 2, "outcome", "exploded"))
                .post("/v1/device/model-reports")
                .then()
                .statusCode(400)
                .body("code", equalTo("malformed-payload"));
    }

    static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static io.restassured.response.Response upload(String name, long version, byte[] body) {
        return given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/octet-stream")
                .body(body)
                .put("/v1/admin/artifacts/" + name + "/versions/" + version);
    }

    static io.restassured.response.Response upload(String name, long version, InputStream body) {
        return given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/octet-stream")
                .body(body)
                .put("/v1/admin/artifacts/" + name + "/versions/" + version);
    }

    /**
     * Uploads versions 1 and 2 of a seeded synthetic weights file ({@code bytes} long; 2 is a fine-tune of 1) and
     * makes version 1 the desired one: the starting point of a rollout.
     */
    static void uploadPairDesiringFirst(String name, long seed, int bytes) {
        upload(name, 1, SyntheticWeights.bytes(seed, bytes, false)).then().statusCode(201);
        upload(name, 2, SyntheticWeights.bytes(seed, bytes, true)).then().statusCode(201);
        desire(name, 1).then().statusCode(200);
    }

    static io.restassured.response.Response desire(String name, long version) {
        return given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body(Map.of("version", version))
                .post("/v1/admin/artifacts/" + name + "/desired");
    }

    static PublicKey signingKey(TestDevice d) {
        String key = given().header("Authorization", "Bearer " + d.token)
                .get("/v1/artifacts/signing-key")
                .then()
                .statusCode(200)
                .extract()
                .path("publicKey");
        return SigningKeys.decodePublic(key);
    }

    static Manifest manifest(TestDevice d, PublicKey key, String name, long version) {
        byte[] env = get(d, "/v1/artifacts/" + name + "/versions/" + version + "/manifest", 200);
        return Manifest.decode(SignedEnvelope.decode(env).verifiedPayload(Manifest.PAYLOAD_TYPE, key));
    }

    static Assignment assignment(TestDevice d, PublicKey key, String name) {
        List<String> all = d.sync(null, List.of(), dev.outpost.model.wire.WireFormat.BINARY)
                .modelAssignments();
        for (String a : all) {
            Assignment parsed = Assignment.decode(
                    SignedEnvelope.decode(Base64.getDecoder().decode(a)).verifiedPayload(Assignment.PAYLOAD_TYPE, key));
            if (parsed.artifact().equals(name)) {
                return parsed;
            }
        }
        throw new AssertionError("no assignment for " + name + " among " + all.size());
    }

    static byte[] get(TestDevice d, String path, int status) {
        return given().header("Authorization", "Bearer " + d.token)
                .get(path)
                .then()
                .statusCode(status)
                .extract()
                .asByteArray();
    }

    /** A synthetic weights file of any size, generated while it is read. */
    static final class SyntheticWeightsStream extends InputStream {
        private final InputStream in;

        SyntheticWeightsStream(long seed, long size) {
            try {
                var pipeIn = new java.io.PipedInputStream(1 << 20);
                var pipeOut = new java.io.PipedOutputStream(pipeIn);
                Thread.ofVirtual().start(() -> {
                    try (pipeOut) {
                        SyntheticWeights.write(pipeOut, seed, size, false);
                    } catch (java.io.IOException e) {
                        // The reader stopped (the service refused the upload): nothing more to write.
                    }
                });
                this.in = pipeIn;
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public int read() throws java.io.IOException {
            return in.read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws java.io.IOException {
            return in.read(b, off, len);
        }
    }
}
