package dev.outpost.sync.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.S3Server;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.sync.artifact.ChunkStore.Kind;
import dev.outpost.sync.artifact.fs.FileChunkStore;
import dev.outpost.sync.artifact.s3.S3ChunkStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chunk store's contract, held by both stores: the file system, and S3 against a real S3 API server (s3proxy as
 * its own process).
 */
class ChunkStoresIT {
    static final String BUCKET = "outpost-chunks";

    @TempDir
    static Path dir;

    static S3Server s3;
    static S3ChunkStore s3Store;
    static FileChunkStore fileStore;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3Server.start(dir.resolve("s3"));
        s3.createBucket(BUCKET);
        s3Store = S3ChunkStore.open(settings(BUCKET, "fleet-a"));
        fileStore = new FileChunkStore(dir.resolve("files"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (s3Store != null) {
            s3Store.close();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    static S3ChunkStore.Settings settings(String bucket, String prefix) {
        return new S3ChunkStore.Settings(
                bucket,
                Optional.of(s3.endpoint()),
                "us-east-1",
                prefix,
                true,
                Optional.of(S3Server.ACCESS_KEY),
                Optional.of(S3Server.SECRET_KEY),
                Duration.ofSeconds(5));
    }

    static List<ChunkStore> stores() {
        return List.of(fileStore, s3Store);
    }

    static byte[] random(long seed, int size) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    @ParameterizedTest
    @MethodSource("stores")
    void aStoredBlobReadsBackWholeAndByRangeAndStoringItAgainIsANoOp(ChunkStore store) throws IOException {
        byte[] bytes = random(1, 300_000);
        Sha256 hash = Sha256.digest(bytes);
        assertTrue(store.put(Kind.CHUNK, hash, bytes));
        assertFalse(store.put(Kind.CHUNK, hash, bytes), "the second put of the same blob stores nothing");

        assertTrue(store.contains(Kind.CHUNK, hash));
        assertFalse(store.contains(Kind.DELTA, hash), "kinds are kept apart");
        assertEquals(bytes.length, store.length(Kind.CHUNK, hash).orElseThrow());
        assertArrayEquals(bytes, store.read(Kind.CHUNK, hash).orElseThrow());

        ChunkStore.Blob blob = store.blob(Kind.CHUNK, hash).orElseThrow();
        assertEquals(bytes.length, blob.length());
        try (InputStream in = blob.open(0, bytes.length)) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
        try (InputStream in = blob.open(123_457, 65_536)) {
            assertArrayEquals(Arrays.copyOfRange(bytes, 123_457, 123_457 + 65_536), in.readAllBytes());
        }
        try (InputStream in = blob.open(bytes.length - 1, 1)) {
            assertArrayEquals(new byte[] {bytes[bytes.length - 1]}, in.readAllBytes());
        }
        assertEquals(store == fileStore, blob.localFile().isPresent(), "only a local store hands out files");
    }

    @ParameterizedTest
    @MethodSource("stores")
    void anAbsentBlobIsEmptyEverywhereNeverAnError(ChunkStore store) throws IOException {
        Sha256 absent = Sha256.digest(random(2, 100));
        assertFalse(store.contains(Kind.DELTA, absent));
        assertTrue(store.length(Kind.DELTA, absent).isEmpty());
        assertTrue(store.read(Kind.DELTA, absent).isEmpty());
        assertTrue(store.blob(Kind.DELTA, absent).isEmpty());
    }

    @ParameterizedTest
    @MethodSource("stores")
    void writersRacingOnOneBlobLeaveItWhole(ChunkStore store) throws Exception {
        byte[] bytes = random(3, 1 << 20);
        Sha256 hash = Sha256.digest(bytes);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Callable<Boolean>> puts = java.util.Collections.nCopies(4, () -> store.put(Kind.DELTA, hash, bytes));
            int stored = 0;
            for (Future<Boolean> f : pool.invokeAll(puts)) {
                stored += f.get() ? 1 : 0;
            }
            assertTrue(stored >= 1, "one of the writers stored it");
        } finally {
            pool.shutdown();
        }
        assertArrayEquals(bytes, store.read(Kind.DELTA, hash).orElseThrow());
    }

    @ParameterizedTest
    @MethodSource("stores")
    void everyStoredBlobIsListedOnceAndADeletedOneIsGone(ChunkStore store) throws IOException {
        java.util.Set<Sha256> mine = new java.util.HashSet<>();
        for (int i = 0; i < 5; i++) {
            byte[] bytes = random(100 + i, 500 + i);
            Sha256 hash = Sha256.digest(bytes);
            store.put(Kind.CHUNK, hash, bytes);
            mine.add(hash);
        }
        List<Sha256> listed = new java.util.ArrayList<>();
        store.forEach(Kind.CHUNK, listed::add);
        assertEquals(listed.size(), new java.util.HashSet<>(listed).size(), "each blob once");
        assertTrue(listed.containsAll(mine));
        java.util.Set<Sha256> deltas = new java.util.HashSet<>();
        store.forEach(Kind.DELTA, deltas::add);
        assertTrue(mine.stream().noneMatch(deltas::contains), "kinds are listed apart");

        Sha256 gone = mine.iterator().next();
        store.delete(Kind.CHUNK, gone);
        store.delete(Kind.CHUNK, gone); // deleting what is absent is a no-op
        assertFalse(store.contains(Kind.CHUNK, gone));
        assertTrue(store.read(Kind.CHUNK, gone).isEmpty());
        assertTrue(store.blob(Kind.CHUNK, gone).isEmpty(), "no length remembered from before");
        List<Sha256> after = new java.util.ArrayList<>();
        store.forEach(Kind.CHUNK, after::add);
        assertFalse(after.contains(gone));
    }

    @Test
    void s3KeysFollowTheFileLayoutUnderThePrefix() throws IOException {
        byte[] bytes = random(4, 1000);
        Sha256 hash = Sha256.digest(bytes);
        s3Store.put(Kind.DELTA, hash, bytes);
        String hex = hash.hex();
        Path object = s3.data().resolve(BUCKET).resolve("fleet-a/deltas/" + hex.substring(0, 2) + "/" + hex);
        assertArrayEquals(bytes, Files.readAllBytes(object), "the object is where an operator would look for it");
    }

    @Test
    void aMissingBucketStopsTheOpenWithItsName() {
        IOException e = assertThrows(IOException.class, () -> S3ChunkStore.open(settings("no-such-bucket", "")));
        assertTrue(e.getMessage().contains("no-such-bucket"), e.getMessage());
    }

    @Test
    void anUnreachableStoreIsAnErrorNotAnAbsentBlobAndServesAgainOnceBack() throws Exception {
        byte[] bytes = random(5, 2000);
        Sha256 hash = Sha256.digest(bytes);
        try (S3ChunkStore fresh = S3ChunkStore.open(settings(BUCKET, "outage"))) {
            fresh.put(Kind.CHUNK, hash, bytes);
            Sha256 other = Sha256.digest(random(6, 2000));
            s3.stop();
            try {
                // Neither known: a store that cannot be asked must not answer "not here" (that would be a 404).
                assertThrows(IOException.class, () -> fresh.length(Kind.CHUNK, other));
                assertThrows(IOException.class, () -> fresh.read(Kind.CHUNK, hash));
                assertThrows(IOException.class, () -> fresh.put(Kind.CHUNK, other, random(6, 2000)));
            } finally {
                s3.restart();
            }
            assertArrayEquals(bytes, fresh.read(Kind.CHUNK, hash).orElseThrow());
            assertTrue(fresh.length(Kind.CHUNK, other).isEmpty());
        }
    }
}
