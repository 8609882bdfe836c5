package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The delta index kept as its canonical bytes: what its accessors and its entry view answer. */
class DeltaIndexTest {
    @Test
    void entriesReadBackAsTheyWereMadeThroughEveryAccessor() {
        List<DeltaIndex.Entry> entries = entries(new Random(1), 300);
        DeltaIndex index = new DeltaIndex(hash(1), hash(2), entries);

        DeltaIndex decoded = DeltaIndex.decode(index.encode());

        assertEquals(index, decoded);
        assertEquals(index.hashCode(), decoded.hashCode());
        assertEquals(entries, decoded.entries());
        assertEquals(hash(1), decoded.fromManifest());
        assertEquals(hash(2), decoded.toManifest());
        for (int k = 0; k < entries.size(); k++) {
            assertEquals(entries.get(k), decoded.entry(k));
            assertEquals(entries.get(k).target(), decoded.target(k));
            assertEquals(entries.get(k).length(), decoded.length(k));
        }
        assertThrows(IndexOutOfBoundsException.class, () -> decoded.entry(entries.size()));
    }

    @Test
    void aDecodedIndexIsACopyAndMalformedOnesAreInvalid() {
        DeltaIndex index = new DeltaIndex(hash(1), hash(2), entries(new Random(2), 3));
        byte[] data = index.encode();
        DeltaIndex decoded = DeltaIndex.decode(data);
        data[data.length - 1] ^= 1; // the last entry's length
        assertEquals(index, decoded);
        assertNotEquals(index, DeltaIndex.decode(data));

        byte[] good = index.encode();
        int firstEntry = 4 + 1 + 32 + 32 + 4;
        List<byte[]> bad = new ArrayList<>();
        bad.add(Arrays.copyOf(good, good.length - 1)); // cut short
        bad.add(Arrays.copyOf(good, good.length + 1)); // a trailing byte
        byte[] noReferences = good.clone();
        noReferences[firstEntry + 4] = 0;
        bad.add(noReferences);
        byte[] tooManyReferences = good.clone();
        tooManyReferences[firstEntry + 4] = (byte) (UpdatePlanner.REFERENCE_CHUNKS_MAX + 1);
        bad.add(tooManyReferences);
        byte[] zeroLength = good.clone();
        Arrays.fill(zeroLength, good.length - 4, good.length, (byte) 0);
        bad.add(zeroLength);
        for (byte[] b : bad) {
            assertEquals(
                    ErrorCode.ARTIFACT_INVALID,
                    assertThrows(OutpostException.class, () -> DeltaIndex.decode(b))
                            .code());
        }
        assertArrayEquals(good, DeltaIndex.decode(good).encode());
    }

    @Test
    void tensorEntriesKeepTheirKindAndOldDevicesAreServedTheChunkLocalOnes() {
        List<DeltaIndex.Entry> chunkLocal = entries(new Random(3), 40);
        List<DeltaIndex.Entry> mixed = new ArrayList<>();
        for (DeltaIndex.Entry e : chunkLocal) {
            mixed.add(e);
            if (e.target() % 2 == 0) { // the same chunk as a tensor delta too
                mixed.add(new DeltaIndex.Entry(
                        e.target(),
                        DeltaIndex.Kind.TENSOR,
                        e.references(),
                        hash(5000 + e.target()),
                        e.length() / 2 + 1));
            }
        }
        DeltaIndex index = new DeltaIndex(hash(1), hash(2), mixed);
        byte[] data = index.encode();
        assertEquals(2, data[4], "an index with tensor entries is format 2");
        DeltaIndex decoded = DeltaIndex.decode(data);
        assertEquals(mixed, decoded.entries());
        for (int k = 0; k < mixed.size(); k++) {
            assertEquals(mixed.get(k).kind(), decoded.kind(k));
            assertEquals(mixed.get(k).length(), decoded.length(k));
            assertEquals(mixed.get(k).target(), decoded.target(k));
        }

        byte[] old = decoded.chunkLocalOnly();
        assertEquals(1, old[4], "what a device from before tensor deltas reads");
        assertEquals(chunkLocal, DeltaIndex.decode(old).entries());
        assertArrayEquals(
                new DeltaIndex(hash(1), hash(2), chunkLocal).encode(),
                old,
                "the same bytes as an index made without them");
        assertArrayEquals(old, DeltaIndex.decode(old).chunkLocalOnly());

        // One encoding per index: format 2 is refused without a tensor entry, and an unknown kind is refused.
        byte[] noTensor = old.clone();
        noTensor[4] = 2;
        byte[] unknownKind = data.clone();
        unknownKind[4 + 1 + 32 + 32 + 4 + 4] = 7;
        for (byte[] b : List.of(noTensor, unknownKind)) {
            assertEquals(
                    ErrorCode.ARTIFACT_INVALID,
                    assertThrows(OutpostException.class, () -> DeltaIndex.decode(b))
                            .code());
        }
    }

    private static List<DeltaIndex.Entry> entries(Random random, int count) {
        List<DeltaIndex.Entry> out = new ArrayList<>();
        for (int k = 0; k < count; k++) {
            int[] refs = new int[1 + random.nextInt(UpdatePlanner.REFERENCE_CHUNKS_MAX)];
            for (int i = 0; i < refs.length; i++) {
                refs[i] = (i == 0 ? 0 : refs[i - 1] + 1) + random.nextInt(100);
            }
            out.add(new DeltaIndex.Entry(k * 3, refs, hash(1000 + k), 1 + random.nextInt(200_000)));
        }
        return out;
    }

    private static Sha256 hash(int seed) {
        return Sha256.digest(new byte[] {(byte) seed, (byte) (seed >> 8)});
    }
}
