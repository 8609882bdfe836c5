package dev.outpost.model.artifact;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;
import java.util.regex.Pattern;

/**
 * What one artifact version is: its chunks in file order, its size and whole-file SHA-256. Encoded in one canonical
 * binary form ({@link #encode()}); the service signs those bytes (see {@link SignedEnvelope}), a device verifies them
 * before it trusts any field. The format is specified in {@code docs/artifacts.md}.
 *
 * <p>The chunk list is kept as that canonical form itself, 40 bytes a chunk (hash, raw length, stored length), not as
 * objects: a 1 GB file has about 15,000 chunks, and a device holds two manifests while it updates within a 64 MB
 * budget. {@link #chunks()} is a view that makes a {@link ChunkRef} on each access; hot paths use the indexed
 * accessors ({@link #rawLength}, {@link #storedLength}, {@link #index()}).
 */
public final class Manifest {
    public static final String PAYLOAD_TYPE = "application/vnd.outpost.manifest.v1";
    private static final String MAGIC = "OPMF";
    private static final int FORMAT_VERSION = 1;
    private static final int CHUNK_BYTES = Sha256.BYTES + 8;
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    private final String artifact;
    private final long version;
    private final long size;
    private final Sha256 sha256;
    private final long createdAtMs;
    /**
     * The canonical encoding is {@code encoded[from, to)} (the whole array, or a signed envelope's payload in place);
     * chunk {@code i} starts at {@code chunksAt + i * CHUNK_BYTES}.
     */
    private final byte[] encoded;

    private final int from;
    private final int to;

    private final int chunksAt;
    private final int count;

    public Manifest(String artifact, long version, long size, Sha256 sha256, long createdAtMs, List<ChunkRef> chunks) {
        this(checkedEncoding(artifact, version, size, sha256, createdAtMs, chunks));
    }

    private static byte[] checkedEncoding(
            String artifact, long version, long size, Sha256 sha256, long createdAtMs, List<ChunkRef> chunks) {
        checkName(artifact);
        var w = new BinaryForm.Writer(64 + chunks.size() * CHUNK_BYTES)
                .magic(MAGIC)
                .u8(FORMAT_VERSION)
                .text16(artifact)
                .u64(version)
                .u64(size)
                .hash(sha256)
                .u64(createdAtMs)
                .u32(chunks.size());
        for (ChunkRef c : chunks) {
            w.hash(c.hash()).u32(c.rawLength()).u32(c.storedLength());
        }
        return w.toByteArray();
    }

    private Manifest(byte[] data) {
        this(data, 0, data.length);
    }

    /** Reads and checks the encoding {@code data[from, to)}; {@code data} is kept, not copied. */
    private Manifest(byte[] data, int from, int to) {
        var r = new BinaryForm.Reader(data, from, to, "manifest").magic(MAGIC);
        int format = r.u8();
        if (format != FORMAT_VERSION) {
            throw r.invalid("format version " + format + " is not known");
        }
        this.artifact = r.text16();
        this.version = r.u64();
        this.size = r.u64();
        this.sha256 = r.hash();
        this.createdAtMs = r.u64();
        long announced = r.u32();
        if (announced * CHUNK_BYTES != r.remaining()) {
            throw r.invalid("it announces " + announced + " chunks but holds " + r.remaining() + " bytes of them");
        }
        this.encoded = data;
        this.from = from;
        this.to = to;
        this.count = (int) announced;
        this.chunksAt = to - count * CHUNK_BYTES;
        checkName(artifact);
        if (version <= 0) {
            throw new IllegalArgumentException("versions start at 1");
        }
        long sum = 0;
        for (int i = 0; i < count; i++) {
            int raw = rawLength(i);
            if (raw <= 0 || raw > FastCdc.MAX_BYTES) {
                throw new IllegalArgumentException("chunk length out of range: " + Integer.toUnsignedString(raw));
            }
            if (storedLength(i) <= 0) {
                throw new IllegalArgumentException(
                        "stored length out of range: " + Integer.toUnsignedString(storedLength(i)));
            }
            sum += raw;
        }
        if (sum != size) {
            throw new IllegalArgumentException("chunk lengths add up to " + sum + ", not the size " + size);
        }
    }

    public static void checkName(String artifact) {
        if (artifact == null || !NAME.matcher(artifact).matches()) {
            throw new IllegalArgumentException(
                    "an artifact name is 1-64 of a-z 0-9 . _ - starting with a letter or digit: " + artifact);
        }
    }

    public String artifact() {
        return artifact;
    }

    public long version() {
        return version;
    }

    public long size() {
        return size;
    }

    public Sha256 sha256() {
        return sha256;
    }

    public long createdAtMs() {
        return createdAtMs;
    }

    public int chunkCount() {
        return count;
    }

    /** Bytes of chunk {@code i} in the file. */
    public int rawLength(int i) {
        return u32(at(i) + Sha256.BYTES);
    }

    /** Bytes of chunk {@code i}'s zstd frame. */
    public int storedLength(int i) {
        return u32(at(i) + Sha256.BYTES + 4);
    }

    public Sha256 hash(int i) {
        return Sha256.of(Arrays.copyOfRange(encoded, at(i), at(i) + Sha256.BYTES));
    }

    public ChunkRef chunk(int i) {
        return new ChunkRef(hash(i), rawLength(i), storedLength(i));
    }

    /** The chunks in file order: a read-only view that makes each {@link ChunkRef} as it is asked for. */
    public List<ChunkRef> chunks() {
        return new Chunks();
    }

    private final class Chunks extends AbstractList<ChunkRef> implements RandomAccess {
        @Override
        public ChunkRef get(int i) {
            return chunk(i);
        }

        @Override
        public int size() {
            return count;
        }
    }

    /** Where each chunk starts in the file; one more entry than chunks, the last being the size. */
    public long[] offsets() {
        long[] offsets = new long[count + 1];
        for (int i = 0; i < count; i++) {
            offsets[i + 1] = offsets[i] + rawLength(i);
        }
        return offsets;
    }

    /** Bytes a device downloads to fetch every chunk whole. */
    public long storedSize() {
        long sum = 0;
        for (int i = 0; i < count; i++) {
            sum += storedLength(i);
        }
        return sum;
    }

    /** SHA-256 of the canonical encoding: what assignments and delta indexes name a manifest by. */
    public Sha256 digest() {
        return Sha256.digest(encoded, from, to - from);
    }

    public byte[] encode() {
        return Arrays.copyOfRange(encoded, from, to);
    }

    public static Manifest decode(byte[] data) {
        return decodeOwned(data.clone(), 0, data.length);
    }

    /**
     * The manifest an envelope carries, sharing the envelope's payload bytes rather than copying them (580 KB for a
     * 1 GB model); the signature is not checked here: {@link SignedEnvelope#verify} first, unless it was checked when
     * the envelope was stored.
     */
    public static Manifest of(SignedEnvelope envelope) {
        return carried(envelope.payloadType(), envelope.payload(), 0, envelope.payload().length);
    }

    /** As {@link #of(SignedEnvelope)}, in place in the encoded envelope {@code view} was read from. */
    public static Manifest of(SignedEnvelope.View view) {
        return carried(
                view.payloadType(), view.data(), view.payloadOffset(), view.payloadOffset() + view.payloadLength());
    }

    private static Manifest carried(String payloadType, byte[] data, int from, int to) {
        if (!payloadType.equals(PAYLOAD_TYPE)) {
            throw BinaryForm.invalid("manifest", "the envelope holds a " + payloadType);
        }
        return decodeOwned(data, from, to);
    }

    private static Manifest decodeOwned(byte[] data, int from, int to) {
        try {
            return new Manifest(data, from, to);
        } catch (IllegalArgumentException e) {
            throw BinaryForm.invalid("manifest", e.getMessage());
        }
    }

    /**
     * The first chunk of each distinct hash, for lookups by hash: an open-addressing table of chunk indexes, 8 to 16
     * bytes a chunk rather than a map's 60.
     */
    public Index index() {
        return new Index();
    }

    /** See {@link #index()}. */
    public final class Index {
        private final int[] slots; // chunk index + 1; 0 is empty
        private final int mask;

        private Index() {
            int capacity = Integer.highestOneBit(Math.max(2, count * 2) - 1) << 1;
            slots = new int[capacity];
            mask = capacity - 1;
            for (int i = 0; i < count; i++) {
                int s = slotOf(encoded, at(i));
                if (s >= 0 && slots[s] == 0) {
                    slots[s] = i + 1;
                }
            }
        }

        /** The first chunk of this manifest whose hash is chunk {@code j} of {@code other}, or -1. */
        public int firstOf(Manifest other, int j) {
            int s = slotOf(other.encoded, other.at(j));
            return s < 0 || slots[s] == 0 ? -1 : slots[s] - 1;
        }

        /** The first chunk of this manifest whose hash is {@code hash}, or -1. */
        public int firstOf(Sha256 hash) {
            byte[] h = new byte[Sha256.BYTES];
            hash.writeTo(h, 0);
            int s = slotOf(h, 0);
            return s < 0 || slots[s] == 0 ? -1 : slots[s] - 1;
        }

        /**
         * The slot holding the hash at {@code data[from..from+32)}, or the empty slot where it would go; -1 never
         * happens while the table is at most half full, which its capacity guarantees.
         */
        private int slotOf(byte[] data, int from) {
            // The bytes of a SHA-256 are uniform already: four of them are a good enough hash code.
            int s = (data[from] & 0xff
                            | (data[from + 1] & 0xff) << 8
                            | (data[from + 2] & 0xff) << 16
                            | (data[from + 3] & 0xff) << 24)
                    & mask;
            for (int probes = 0; probes <= mask; probes++, s = (s + 1) & mask) {
                int held = slots[s];
                if (held == 0
                        || Arrays.equals(
                                encoded, at(held - 1), at(held - 1) + Sha256.BYTES, data, from, from + Sha256.BYTES)) {
                    return s;
                }
            }
            return -1;
        }
    }

    private int at(int i) {
        return chunksAt + Math.multiplyExact(Objects.checkIndex(i, count), CHUNK_BYTES);
    }

    private int u32(int p) {
        return (encoded[p] & 0xff) << 24
                | (encoded[p + 1] & 0xff) << 16
                | (encoded[p + 2] & 0xff) << 8
                | (encoded[p + 3] & 0xff);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Manifest m && Arrays.equals(encoded, from, to, m.encoded, m.from, m.to);
    }

    @Override
    public int hashCode() {
        int h = 1;
        for (int i = from; i < to; i++) {
            h = 31 * h + encoded[i];
        }
        return h;
    }

    @Override
    public String toString() {
        return "Manifest[" + artifact + " v" + version + ", " + size + " bytes in " + count + " chunks, " + sha256
                + "]";
    }
}
