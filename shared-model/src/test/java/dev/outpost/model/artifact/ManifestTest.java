package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.IOException;
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

    @Test
    void aManifestReadFromAStoredEnvelopeAnswersAsTheOneInMemoryAWindowAtATime() throws IOException {
        SigningKeys keys = SigningKeys.generate();
        for (int count : new int[] {1300, 1280, 1, 0}) { // 1280 = 20 offset strides and 2.5 windows
            List<ChunkRef> chunks = chunks(new Random(count), count, Math.max(1, count / 3));
            Manifest m = manifest(chunks);
            CountingSource source = new CountingSource(
                    SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), keys).encode());
            SignedEnvelope.Stored stored = SignedEnvelope.stored(source);
            stored.verify(Manifest.PAYLOAD_TYPE, keys.publicKey());

            source.reads = 0;
            source.largestRead = 0;
            Manifest read = Manifest.of(stored); // one checking pass
            assertEquals(1 + (count + Manifest.WINDOW_CHUNKS - 1) / Manifest.WINDOW_CHUNKS, source.reads, "windows");
            long[] offsets = m.offsets();
            for (int i = 0; i < count; i++) {
                assertEquals(chunks.get(i), read.chunk(i), "chunk " + i);
                assertEquals(offsets[i], read.offset(i), "offset " + i);
                assertEquals(offsets[i], m.offset(i), "offset " + i + " in memory");
            }
            assertEquals(m.size(), read.offset(count));
            assertEquals(m.size(), m.offset(count));
            assertThrows(IndexOutOfBoundsException.class, () -> read.offset(count + 1));
            assertThrows(IndexOutOfBoundsException.class, () -> read.rawLength(count));
            Manifest.Index inMemory = m.index();
            Manifest.Index fromSource = read.index();
            for (int i = 0; i < count; i++) {
                assertEquals(inMemory.firstOf(m, i), fromSource.firstOf(m, i), "chunk " + i);
                assertEquals(inMemory.firstOf(m, i), inMemory.firstOf(read, i), "chunk " + i);
                assertEquals(inMemory.firstOf(m, i), fromSource.firstOf(read, i), "chunk " + i);
            }
            assertEquals(true, source.largestRead <= Manifest.WINDOW_CHUNKS * 40, "never read whole");
            assertEquals(m, read);
            assertEquals(read, m);
            assertEquals(m.hashCode(), read.hashCode());
            assertEquals(m.digest(), read.digest());
            assertEquals(m.digest(), stored.payloadDigest());
            assertArrayEquals(m.encode(), read.encode());
            assertEquals(m.storedSize(), read.storedSize());
        }
    }

    @Test
    void hashesThatShareTheirFirstEightBytesAreStillToldApart() {
        List<ChunkRef> chunks = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            byte[] h = new byte[Sha256.BYTES]; // the same slot and fingerprint bytes, different hashes
            h[31] = (byte) i;
            chunks.add(new ChunkRef(Sha256.of(h), 100, 50));
        }
        Manifest m = manifest(chunks);
        Manifest.Index index = m.index();
        for (int i = 0; i < 64; i++) {
            assertEquals(i, index.firstOf(m, i));
        }
        byte[] absent = new byte[Sha256.BYTES];
        absent[30] = 1;
        assertEquals(-1, index.firstOf(Sha256.of(absent)));
    }

    @Test
    void lookingUpAStoredManifestInOrderReadsEachWindowAboutOnce() throws IOException {
        // An update looks up the target's chunks in order in both indexes; probes past other chunks must not read them.
        // (A repeated chunk's lookup reads the window of its first occurrence: model files repeat few chunks.)
        java.util.Set<Sha256> seen = new java.util.HashSet<>();
        List<ChunkRef> chunks = chunks(new Random(13), 3000, 3000).stream()
                .filter(c -> seen.add(c.hash()))
                .toList();
        Manifest m = manifest(chunks);
        CountingSource source =
                new CountingSource(SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), SigningKeys.generate())
                        .encode());
        Manifest read = Manifest.of(SignedEnvelope.stored(source));
        int windows = (chunks.size() + Manifest.WINDOW_CHUNKS - 1) / Manifest.WINDOW_CHUNKS;

        Manifest.Index inMemory = m.index();
        source.reads = 0;
        Manifest.Index index = read.index();
        for (int i = 0; i < chunks.size(); i++) {
            assertEquals(inMemory.firstOf(m, i), index.firstOf(read, i));
        }

        assertEquals(true, source.reads <= 2 * windows + 2, source.reads + " reads for " + windows + " windows");
    }

    @Test
    void aStoredManifestThatCannotBeReadAnyMoreFailsRatherThanAnswers() throws IOException {
        Manifest m = manifest(chunks(new Random(9), 1500, 1500));
        CountingSource source =
                new CountingSource(SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), SigningKeys.generate())
                        .encode());
        Manifest read = Manifest.of(SignedEnvelope.stored(source));
        assertEquals(m.hash(1499), read.hash(1499));

        source.broken = true;

        assertEquals(m.hash(1498), read.hash(1498), "the window in memory still answers");
        assertThrows(java.io.UncheckedIOException.class, () -> read.hash(0));
        assertThrows(java.io.UncheckedIOException.class, read::digest);
    }

    @Test
    void aStoredEnvelopeOfAnotherTypeOrCutShortIsNoManifest() throws IOException {
        Manifest m = manifest(chunks(new Random(10), 30, 30));
        SigningKeys keys = SigningKeys.generate();
        byte[] other =
                SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, m.encode(), keys).encode();
        assertEquals(
                ErrorCode.ARTIFACT_INVALID,
                assertThrows(OutpostException.class, () -> Manifest.of(SignedEnvelope.stored(ByteSource.of(other))))
                        .code());
        byte[] wire =
                SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), keys).encode();
        for (int cut : new int[] {1, 60, wire.length - 20}) {
            byte[] shorter = java.util.Arrays.copyOf(wire, wire.length - cut);
            assertEquals(
                    ErrorCode.ARTIFACT_INVALID,
                    assertThrows(OutpostException.class, () -> SignedEnvelope.stored(ByteSource.of(shorter)))
                            .code(),
                    "cut by " + cut);
        }
    }

    /** A source over an array that counts its reads and can be made to fail. */
    private static final class CountingSource implements ByteSource {
        private final byte[] data;
        int reads;
        int largestRead;
        boolean broken;

        CountingSource(byte[] data) {
            this.data = data;
        }

        @Override
        public long size() {
            return data.length;
        }

        @Override
        public void readFully(long position, byte[] into, int offset, int length) throws IOException {
            if (broken) {
                throw new IOException("the file is gone");
            }
            reads++;
            largestRead = Math.max(largestRead, length);
            ByteSource.of(data).readFully(position, into, offset, length);
        }
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
