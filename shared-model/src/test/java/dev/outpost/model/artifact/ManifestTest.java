package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The manifest kept as its canonical bytes: what its accessors, its view and its hash index answer. */
class ManifestTest {
    @Test
    void indexedAccessorsTheViewAndADecodedCopyAgreeWithTheChunksItWasMadeOf() {
        List<ChunkRef> chunks = chunks(new Random(7), 500, 40);
        Manifest m = manifest(chunks);

        Manifest decoded = Manifest.decode(m.encode());

        assertEquals(m, decoded);
        assertEquals(m.hashCode(), decoded.hashCode());
        assertEquals(chunks, decoded.chunks());
        assertEquals(chunks.size(), decoded.chunkCount());
        long[] offsets = decoded.offsets();
        for (int i = 0; i < chunks.size(); i++) {
            assertEquals(chunks.get(i).rawLength(), decoded.rawLength(i));
            assertEquals(chunks.get(i).storedLength(), decoded.storedLength(i));
            assertEquals(chunks.get(i).hash(), decoded.hash(i));
            assertEquals(offsets[i] + decoded.rawLength(i), offsets[i + 1]);
        }
        assertEquals(m.size(), offsets[chunks.size()]);
        assertEquals(Sha256.digest(m.encode()), decoded.digest());
        assertThrows(IndexOutOfBoundsException.class, () -> decoded.rawLength(chunks.size()));
        assertThrows(IndexOutOfBoundsException.class, () -> decoded.hash(-1));
    }

    @Test
    void theIndexFindsTheFirstChunkOfEveryHashAndNothingElse() {
        // Many repeats and a small table: every probe sequence is exercised, collisions included.
        Random random = new Random(11);
        List<ChunkRef> chunks = chunks(random, 3000, 300);
        Manifest m = manifest(chunks);
        Map<Sha256, Integer> first = new HashMap<>();
        for (int i = 0; i < chunks.size(); i++) {
            first.putIfAbsent(chunks.get(i).hash(), i);
        }

        Manifest.Index index = m.index();

        for (int i = 0; i < chunks.size(); i++) {
            assertEquals(first.get(chunks.get(i).hash()), index.firstOf(m, i), "chunk " + i);
            assertEquals(
                    first.get(chunks.get(i).hash()), index.firstOf(chunks.get(i).hash()));
        }
        Manifest other = manifest(chunks(new Random(12), 200, 200));
        for (int j = 0; j < other.chunkCount(); j++) {
            assertEquals(first.getOrDefault(other.hash(j), -1), index.firstOf(other, j), "a hash it does not hold");
        }
        assertEquals(-1, manifest(List.of()).index().firstOf(m, 0), "an empty manifest holds nothing");
    }

    @Test
    void aDecodedManifestIsACopyThatLaterChangesToTheInputCannotReach() {
        Manifest m = manifest(chunks(new Random(3), 10, 10));
        byte[] data = m.encode();
        Manifest decoded = Manifest.decode(data);

        data[data.length - 40] ^= 1; // the last chunk's hash

        assertEquals(m, decoded);
        assertNotEquals(m, Manifest.decode(data));
    }

    @Test
    void theManifestOfAnEnvelopeIsItsPayloadAndNothingElseIsAManifest() {
        SigningKeys keys = SigningKeys.generate();
        Manifest m = manifest(chunks(new Random(4), 20, 20));
        SignedEnvelope signed = SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), keys);

        assertEquals(m, Manifest.of(SignedEnvelope.decode(signed.encode())));
        SignedEnvelope other = SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, m.encode(), keys);
        assertEquals(
                ErrorCode.ARTIFACT_INVALID,
                assertThrows(OutpostException.class, () -> Manifest.of(other)).code());
    }

    @Test
    void chunkLengthsOutOfRangeOrNotAddingUpToTheSizeAreInvalid() {
        Manifest m = manifest(chunks(new Random(5), 4, 4));
        byte[] good = m.encode();
        int lastChunk = good.length - 40;
        for (int[] edit : new int[][] {
            {lastChunk + 32, 0}, // raw length 0
            {lastChunk + 32, FastCdc.MAX_BYTES + 1}, // raw length beyond the chunker's maximum
            {lastChunk + 32, -1}, // raw length 2^32 - 1
            {lastChunk + 36, 0}, // stored length 0
            {lastChunk + 36, Integer.MIN_VALUE}, // stored length 2^31
            {lastChunk + 32, m.rawLength(3) + 1} // chunks add up to one byte more than the size
        }) {
            byte[] bad = good.clone();
            ByteBuffer.wrap(bad).putInt(edit[0], edit[1]);
            OutpostException e = assertThrows(OutpostException.class, () -> Manifest.decode(bad));
            assertEquals(ErrorCode.ARTIFACT_INVALID, e.code());
        }
        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 1);
        assertEquals(
                ErrorCode.ARTIFACT_INVALID,
                assertThrows(OutpostException.class, () -> Manifest.decode(truncated))
                        .code());
        assertArrayEquals(good, Manifest.decode(good).encode());
    }

    /** {@code count} chunks drawing their content from {@code distinct} hashes, so many repeat. */
    private static List<ChunkRef> chunks(Random random, int count, int distinct) {
        List<Sha256> hashes = new ArrayList<>();
        for (int i = 0; i < distinct; i++) {
            byte[] h = new byte[Sha256.BYTES];
            random.nextBytes(h);
            hashes.add(Sha256.of(h));
        }
        List<ChunkRef> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new ChunkRef(
                    hashes.get(random.nextInt(distinct)),
                    1 + random.nextInt(FastCdc.MAX_BYTES),
                    1 + random.nextInt(FastCdc.MAX_BYTES)));
        }
        return out;
    }

    private static Manifest manifest(List<ChunkRef> chunks) {
        long size = chunks.stream().mapToLong(ChunkRef::rawLength).sum();
        return new Manifest("weights", 3, size, Sha256.digest(new byte[] {1}), 1_700_000_000_000L, chunks);
    }
}
