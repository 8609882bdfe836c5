package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SyntheticWeights;
import dev.outpost.sync.artifact.ArtifactGc;
import dev.outpost.sync.artifact.ChunkStore;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.io.IOException;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Deleting artifact versions and collecting what nothing refers to, on real PostgreSQL and the real chunk store: a
 * version nothing needs goes with the chunks and deltas only it had; one still desired, in a rollout, or run or kept
 * by a device is refused with the reason; collection never runs while an upload is in progress.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class ArtifactDeletionIT {
    private static final int SIZE = 2 << 20;

    @Inject
    ChunkStore store;

    @Inject
    ArtifactGc gc;

    @Inject
    Pool pool;

    private Set<Sha256> stored(ChunkStore.Kind kind) throws IOException {
        Set<Sha256> all = new HashSet<>();
        store.forEach(kind, all::add);
        return all;
    }

    private Set<Sha256> chunksOf(String artifact, long version) {
        byte[] envelope = pool.preparedQuery(
                        "select manifest from artifact_version where artifact = $1 and version = $2")
                .execute(Tuple.of(artifact, version))
                .await()
                .indefinitely()
                .iterator()
                .next()
                .getBuffer("manifest")
                .getBytes();
        return Manifest.decode(SignedEnvelope.decode(envelope).payload()).chunks().stream()
                .map(ChunkRef::hash)
                .collect(Collectors.toSet());
    }

    private static io.restassured.response.Response delete(String name, long version) {
        return given().header("Authorization", TestDevice.ADMIN)
                .delete("/v1/admin/artifacts/" + name + "/versions/" + version);
    }

    @Test
    void aVersionNothingNeedsGoesWithTheChunksAndDeltasOnlyItHadAndItsNumberIsNeverReused() throws IOException {
        String name = ArtifactIT.unique("gc");
        // v1 and v3 differ everywhere; v2 is v1 tuned (most chunks shared with v1).
        ArtifactIT.upload(name, 1, SyntheticWeights.bytes(31, SIZE, false))
                .then()
                .statusCode(201);
        ArtifactIT.upload(name, 2, SyntheticWeights.bytes(31, SIZE, true))
                .then()
                .statusCode(201);
        ArtifactIT.desire(name, 2).then().statusCode(200);
        TestDevice d = TestDevice.register("gc", "gc-" + name);
        DeltaIndex index = DeltaIndex.decode(ArtifactIT.get(d, "/v1/artifacts/" + name + "/deltas?from=1&to=2", 200));
        Set<Sha256> deltas =
                index.entries().stream().map(DeltaIndex.Entry::hash).collect(Collectors.toSet());
        assertFalse(deltas.isEmpty());
        Set<Sha256> v1 = chunksOf(name, 1);
        Set<Sha256> v2 = chunksOf(name, 2);
        Set<Sha256> onlyV1 = new HashSet<>(v1);
        onlyV1.removeAll(v2);
        assertFalse(onlyV1.isEmpty(), "v1 has chunks of its own");
        assertTrue(stored(ChunkStore.Kind.CHUNK).containsAll(v1));

        JsonPath deleted = delete(name, 1).then().statusCode(200).extract().jsonPath();
        assertTrue(deleted.getBoolean("deleted"));
        assertTrue(deleted.getLong("collected.chunks") >= onlyV1.size(), deleted.prettify());
        Set<Sha256> chunksNow = stored(ChunkStore.Kind.CHUNK);
        assertTrue(chunksNow.containsAll(v2), "every chunk of v2 stays");
        assertTrue(onlyV1.stream().noneMatch(chunksNow::contains), "v1's own chunks are gone");
        Set<Sha256> deltasNow = stored(ChunkStore.Kind.DELTA);
        assertTrue(deltas.stream().noneMatch(deltasNow::contains), "the deltas from v1 are gone");

        // v2 still serves whole; v1 is gone, and its number is never used again.
        for (Sha256 h : v2) {
            ArtifactIT.get(d, "/v1/chunks/" + h.hex(), 200);
        }
        given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/artifacts/" + name + "/versions/1")
                .then()
                .statusCode(404);
        ArtifactIT.upload(name, 1, SyntheticWeights.bytes(31, SIZE, false))
                .then()
                .statusCode(409)
                .body("code", org.hamcrest.Matchers.equalTo("already-exists"));
        delete(name, 1).then().statusCode(404).body("code", org.hamcrest.Matchers.equalTo("not-found"));
    }

    @Test
    void aVersionStillNeededIsRefusedWithWhatNeedsIt() {
        String name = ArtifactIT.unique("keep");
        ArtifactIT.uploadPairDesiringFirst(name, 37, 1 << 16);
        String desired = delete(name, 1)
                .then()
                .statusCode(409)
                .body("code", org.hamcrest.Matchers.equalTo("version-in-use"))
                .extract()
                .path("detail");
        assertTrue(desired.contains("desired"), desired);

        // A device went 1 -> 2: it runs 2 and keeps 1 in its other slot.
        ArtifactIT.desire(name, 2).then().statusCode(200);
        TestDevice d = TestDevice.register("keep", "keep-" + name);
        RolloutIT.report(d, name, 1, 2, 2, "installed", null);
        String kept = delete(name, 1).then().statusCode(409).extract().path("detail");
        assertTrue(kept.contains("1 devices run, install or keep it"), kept);
        delete(name, 2).then().statusCode(409);

        // A revoked device needs nothing.
        given().header("Authorization", TestDevice.ADMIN)
                .delete("/v1/admin/devices/" + d.id)
                .then()
                .statusCode(200);
        delete(name, 1).then().statusCode(200);
    }

    @Test
    void noCollectionRunsWhileAnUploadIsInProgress() throws IOException {
        byte[] orphan = new byte[4096];
        new Random(41).nextBytes(orphan);
        Sha256 hash = Sha256.digest(orphan);
        // A chunk an upload on another replica has stored, its version not yet recorded.
        store.put(ChunkStore.Kind.CHUNK, hash, orphan);
        String upload = UUID.randomUUID().toString();
        Sql.execute(
                pool,
                "insert into artifact_upload (id, artifact, version, replica) values ($1, 'elsewhere', 1, 'other')",
                upload);
        try {
            ArtifactGc.Collected held = gc.collect(1000).await().indefinitely();
            assertFalse(held.ran(), "an upload is in progress");
            assertTrue(store.contains(ChunkStore.Kind.CHUNK, hash));
        } finally {
            // The upload failed and is gone: its chunk is referred to by nothing and is collected.
            Sql.execute(pool, "delete from artifact_upload where id = $1", upload);
        }
        ArtifactGc.Collected done = gc.collect(1_000_000).await().indefinitely();
        assertTrue(done.ran());
        assertFalse(store.contains(ChunkStore.Kind.CHUNK, hash));

        // An upload whose replica died long ago holds nothing back.
        store.put(ChunkStore.Kind.CHUNK, hash, orphan);
        Sql.execute(
                pool,
                "insert into artifact_upload (id, artifact, version, replica, started_at)"
                        + " values ($1, 'elsewhere', 1, 'dead', now() - interval '7 hours')",
                upload);
        try {
            assertTrue(gc.collect(1_000_000).await().indefinitely().ran());
            assertFalse(store.contains(ChunkStore.Kind.CHUNK, hash));
        } finally {
            Sql.execute(pool, "delete from artifact_upload where id = $1", upload);
        }
        assertEquals(0, Sql.count(pool, "select count(*) from artifact_upload where replica = 'dead'"));
    }
}
