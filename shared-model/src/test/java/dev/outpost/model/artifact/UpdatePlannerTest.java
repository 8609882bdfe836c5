package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The planner and the codec together, on seeded weight files, exactly as the service and a device use them. */
class UpdatePlannerTest {
    private static final int SIZE = 24 << 20;

    @Test
    void updatingThroughThePlanRebuildsTheTargetExactlyFromFarFewerBytes() throws IOException {
        byte[] v1 = SyntheticWeights.bytes(42, SIZE, false);
        byte[] v2 = SyntheticWeights.bytes(42, SIZE, true);
        Store store = new Store();
        Manifest m1 = store.build(1, v1);
        Manifest m2 = store.build(2, v2);
        DeltaIndex deltas = store.deltas(m1, m2, v1);

        UpdatePlanner.Plan plan = UpdatePlanner.plan(m1, m2, deltas);
        byte[] rebuilt = store.apply(plan, m1, v1, m2);

        assertArrayEquals(v2, rebuilt);
        assertEquals(m2.sha256(), Sha256.digest(rebuilt));
        long full = m2.storedSize();
        assertTrue(plan.count(UpdatePlanner.Step.Reuse.class) > m2.chunks().size() * 0.6, "reuse " + plan);
        assertTrue(plan.count(UpdatePlanner.Step.Delta.class) > 0, "some delta beats its whole chunk");
        assertEquals(m2.chunkCount(), plan.count(UpdatePlanner.Step.class), "every step is a step");
        // 5% tuned + 1% inserted: the update should cost well under a fifth of a full download.
        assertTrue(plan.downloadBytes() < full / 5, plan.downloadBytes() + " of " + full);
    }

    @Test
    void aFirstInstallFetchesEveryDistinctChunkOnce() throws IOException {
        byte[] half = FastCdcTest.random(9, 2 << 20);
        byte[] twice = new byte[half.length * 2];
        System.arraycopy(half, 0, twice, 0, half.length);
        System.arraycopy(half, 0, twice, half.length, half.length);
        Store store = new Store();
        Manifest m = store.build(1, twice);

        UpdatePlanner.Plan plan = UpdatePlanner.plan(null, m, null);

        assertEquals(0, plan.count(UpdatePlanner.Step.Reuse.class));
        assertTrue(plan.count(UpdatePlanner.Step.Copy.class) > 0, "repeated content is copied, not fetched");
        assertArrayEquals(twice, store.apply(plan, null, new byte[0], m));
    }

    @Test
    void referencesFollowTheContentAcrossAnInsertion() throws IOException {
        byte[] v1 = SyntheticWeights.bytes(7, 8 << 20, false);
        byte[] v2 = SyntheticWeights.bytes(7, 8 << 20, true);
        Store store = new Store();
        Manifest m1 = store.build(1, v1);
        Manifest m2 = store.build(2, v2);
        Map<Integer, int[]> refs = UpdatePlanner.references(m1, m2);
        assertTrue(!refs.isEmpty());
        for (int[] r : refs.values()) {
            long bytes = 0;
            for (int k : r) {
                bytes += m1.chunks().get(k).rawLength();
            }
            assertTrue(bytes <= UpdatePlanner.REFERENCE_BYTES_MAX && r.length <= UpdatePlanner.REFERENCE_CHUNKS_MAX);
        }
    }

    @Test
    void aDeltaIndexForOtherManifestsIsRefused() throws IOException {
        Store store = new Store();
        Manifest m1 = store.build(1, FastCdcTest.random(1, 1 << 20));
        Manifest m2 = store.build(2, FastCdcTest.random(2, 1 << 20));
        Manifest m3 = store.build(3, FastCdcTest.random(3, 1 << 20));
        DeltaIndex forOthers = new DeltaIndex(Sha256.digest(m1.encode()), Sha256.digest(m3.encode()), List.of());
        OutpostException e = assertThrows(OutpostException.class, () -> UpdatePlanner.plan(m1, m2, forOthers));
        assertEquals(ErrorCode.ARTIFACT_INVALID, e.code());
    }

    @Test
    void aDeltaAppliedToTheWrongReferenceIsCaughtByTheHash() {
        byte[] reference = FastCdcTest.random(5, 100_000);
        byte[] target = reference.clone();
        target[500] ^= 1;
        byte[] delta = ChunkCodec.compressDelta(target, reference, ChunkCodec.DELTA_LEVEL);
        assertTrue(delta.length < 200, "a one-byte change costs a few bytes: " + delta.length);
        byte[] wrongReference = FastCdcTest.random(6, 100_000);
        OutpostException e = assertThrows(
                OutpostException.class,
                () -> ChunkCodec.verify(
                        ChunkCodec.applyDelta(delta, wrongReference, target.length), Sha256.digest(target), "chunk"));
        assertEquals(ErrorCode.CHUNK_CORRUPT, e.code());
    }

    @Test
    void aCorruptFrameIsChunkCorruptNotACrash() {
        byte[] frame = ChunkCodec.compress(FastCdcTest.random(8, 70_000), ChunkCodec.STORE_LEVEL);
        frame[frame.length / 2] ^= 0x55;
        frame[4] ^= 0x7f;
        OutpostException e = assertThrows(OutpostException.class, () -> ChunkCodec.decompress(frame, 70_000));
        assertEquals(ErrorCode.CHUNK_CORRUPT, e.code());
    }

    /** An in-memory stand-in for the service's chunk store and delta cache. */
    static final class Store {
        final Map<Sha256, byte[]> frames = new HashMap<>();
        final Map<Sha256, byte[]> deltaFrames = new HashMap<>();

        Manifest build(long version, byte[] data) throws IOException {
            return ManifestBuilder.build("weights", version, 0, new ByteArrayInputStream(data), (h, raw) -> {
                byte[] frame = ChunkCodec.compress(raw, ChunkCodec.STORE_LEVEL);
                frames.putIfAbsent(h, frame);
                return frame.length;
            });
        }

        DeltaIndex deltas(Manifest held, Manifest target, byte[] heldBytes) {
            long[] to = target.offsets();
            List<DeltaIndex.Entry> entries = new ArrayList<>();
            UpdatePlanner.references(held, target).forEach((i, refs) -> {
                ChunkRef c = target.chunks().get(i);
                byte[] raw = ChunkCodec.decompress(frames.get(c.hash()), c.rawLength());
                byte[] delta = ChunkCodec.compressDelta(raw, reference(held, heldBytes, refs), ChunkCodec.DELTA_LEVEL);
                Sha256 h = Sha256.digest(delta);
                deltaFrames.put(h, delta);
                entries.add(new DeltaIndex.Entry(i, refs, h, delta.length));
                assertTrue(to[i] >= 0);
            });
            return new DeltaIndex(Sha256.digest(held.encode()), Sha256.digest(target.encode()), entries);
        }

        /**
         * {@code chunkLocal} plus a tensor delta for every chunk the held version lacks that has tensors the held
         * version has too, as the service makes them.
         */
        DeltaIndex withTensorDeltas(
                DeltaIndex chunkLocal, Manifest held, byte[] heldBytes, Manifest target, byte[] targetBytes)
                throws IOException {
            TensorLayout heldLayout =
                    TensorLayout.read(ByteSource.of(heldBytes)).orElseThrow();
            TensorLayout targetLayout =
                    TensorLayout.read(ByteSource.of(targetBytes)).orElseThrow();
            List<DeltaIndex.Entry> entries = new ArrayList<>(chunkLocal.entries());
            TensorDelta.Pairing pairing = new TensorDelta.Pairing(held, heldLayout, targetLayout);
            Manifest.Index heldIndex = held.index();
            for (int i = 0; i < target.chunkCount(); i++) {
                if (heldIndex.firstOf(target, i) >= 0) {
                    continue;
                }
                long start = target.offset(i);
                int length = target.rawLength(i);
                var mapping = TensorDelta.map(pairing, start, length, TensorDelta.TRANSFORM);
                if (mapping.isEmpty()) {
                    continue;
                }
                byte[] ref = reference(held, heldBytes, mapping.get().references());
                byte[] raw = java.util.Arrays.copyOfRange(targetBytes, (int) start, (int) start + length);
                byte[] frame = TensorDelta.encode(raw, mapping.get().segments(), ref, ref.length, TensorDelta.LEVEL);
                Sha256 h = Sha256.digest(frame);
                deltaFrames.put(h, frame);
                entries.add(new DeltaIndex.Entry(
                        i, DeltaIndex.Kind.TENSOR, mapping.get().references(), h, frame.length));
            }
            entries.sort(java.util.Comparator.comparingInt(DeltaIndex.Entry::target));
            return new DeltaIndex(chunkLocal.fromManifest(), chunkLocal.toManifest(), entries);
        }

        byte[] apply(UpdatePlanner.Plan plan, Manifest held, byte[] heldBytes, Manifest target) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            long[] ho = held == null ? new long[1] : held.offsets();
            long[] to = target.offsets();
            byte[] soFar;
            for (UpdatePlanner.Step step : plan.steps()) {
                ChunkRef c = target.chunks().get(step.target());
                byte[] raw = switch (step) {
                    case UpdatePlanner.Step.Reuse r ->
                        java.util.Arrays.copyOfRange(heldBytes, (int) ho[r.held()], (int) ho[r.held() + 1]);
                    case UpdatePlanner.Step.Copy cp -> {
                        soFar = out.toByteArray();
                        yield java.util.Arrays.copyOfRange(soFar, (int) to[cp.earlier()], (int) to[cp.earlier() + 1]);
                    }
                    case UpdatePlanner.Step.Delta d -> {
                        byte[] ref = reference(held, heldBytes, d.delta().references());
                        byte[] frame = deltaFrames.get(d.delta().hash());
                        yield d.delta().kind() == DeltaIndex.Kind.TENSOR
                                ? TensorDelta.decode(frame, ref, ref.length, c.rawLength())
                                : ChunkCodec.applyDelta(frame, ref, c.rawLength());
                    }
                    case UpdatePlanner.Step.Fetch f -> ChunkCodec.decompress(frames.get(c.hash()), c.rawLength());
                };
                ChunkCodec.verify(raw, c.hash(), "chunk " + step.target());
                out.writeBytes(raw);
            }
            return out.toByteArray();
        }

        static byte[] reference(Manifest held, byte[] heldBytes, int[] refs) {
            long[] ho = held.offsets();
            ByteArrayOutputStream ref = new ByteArrayOutputStream();
            for (int k : refs) {
                ref.write(heldBytes, (int) ho[k], (int) (ho[k + 1] - ho[k]));
            }
            return ref.toByteArray();
        }
    }
}
