package dev.outpost.model.artifact;

import dev.outpost.model.artifact.SignedEnvelope.View;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What one artifact version is: its chunks in file order, its size and whole-file SHA-256. Encoded in one canonical
 * binary form ({@link #encode()}); the service signs those bytes (see {@link SignedEnvelope}), a device verifies them
 * before it trusts any field. The format is specified in {@code docs/artifacts.md}.
 *
 * <p>The chunk list is kept as that canonical form itself, 40 bytes a chunk (hash, raw length, stored length), not as
 * objects: a 1 GB file has about 15,000 chunks. The service holds it in an array ({@link #decode}, {@link #of(View)});
 * a device reads it where it is stored ({@link #of(SignedEnvelope.Stored)}), a window of {@value #WINDOW_CHUNKS}
 * chunks at a time, so that what it holds while it updates within 64 MB does not grow with the model.
 * {@link #chunks()} is a view that makes a {@link ChunkRef} on each access; hot paths use the indexed accessors
 * ({@link #rawLength}, {@link #storedLength}, {@link #offset}, {@link #index()}).
 */
public final class Manifest {
    public static final String PAYLOAD_TYPE = "application/vnd.outpost.manifest.v1";
    private static final String MAGIC = "OPMF";
    private static final int FORMAT_VERSION = 1;
    private static final int CHUNK_BYTES = Sha256.BYTES + 8;
    /** Chunks a stored manifest reads at a time (20 KiB). */
    static final int WINDOW_CHUNKS = 512;
    /** Chunks between the offsets {@link #offset} keeps: 8 bytes per 64 chunks. */
    private static final int OFFSET_STRIDE = 64;
    /** Bytes of a manifest ahead of its chunks at most: magic, format, a 64-byte name, four numbers, the hash. */
    private static final int HEAD_BYTES_MAX = 4 + 1 + 2 + 64 + 8 + 8 + Sha256.BYTES + 8 + 4;

    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    private final String artifact;
    private final long version;
    private final long size;
    private final Sha256 sha256;
    private final long createdAtMs;
    /** Where the chunk list is read. */
    private final Table table;

    private final int count;
    /** Every {@value #OFFSET_STRIDE}th chunk's offset in the file, made on the first {@link #offset} call. */
    private volatile long[] strideOffsets;
    /** See {@link #digest()}. */
    private volatile Sha256 digest;

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
        this(data, from, to, to - from, chunksAt -> new InArray(data, from, to, from + (int) chunksAt));
    }

    /**
     * Reads the header from {@code head[from, headTo)}, the start of an encoding of {@code length} bytes, and checks
     * the chunk list that {@code tables} gives for where it starts (relative to the encoding).
     */
    private Manifest(byte[] head, int from, int headTo, long length, java.util.function.LongFunction<Table> tables) {
        var r = new BinaryForm.Reader(head, from, headTo, "manifest").magic(MAGIC);
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
        long chunksAt = r.position() - from;
        if (announced * CHUNK_BYTES != length - chunksAt) {
            throw r.invalid(
                    "it announces " + announced + " chunks but holds " + (length - chunksAt) + " bytes of them");
        }
        this.count = (int) announced;
        this.table = tables.apply(chunksAt);
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
        return table.u32(Objects.checkIndex(i, count), Sha256.BYTES);
    }

    /** Bytes of chunk {@code i}'s zstd frame. */
    public int storedLength(int i) {
        return table.u32(Objects.checkIndex(i, count), Sha256.BYTES + 4);
    }

    public Sha256 hash(int i) {
        byte[] h = new byte[Sha256.BYTES];
        table.hash(Objects.checkIndex(i, count), h);
        return Sha256.of(h);
    }

    public ChunkRef chunk(int i) {
        return new ChunkRef(hash(i), rawLength(i), storedLength(i));
    }

    /** The chunks in file order: a read-only view that makes each {@link ChunkRef} as it is asked for. */
    public List<ChunkRef> chunks() {
        return new IndexedList<>(count, this::chunk);
    }

    /** The chunk that holds byte {@code position} of the file, given its {@link #offsets()}. */
    public static int chunkAt(long[] offsets, long position) {
        int k = Arrays.binarySearch(offsets, 0, offsets.length - 1, position);
        return k >= 0 ? k : -k - 2;
    }

    /** Where each chunk starts in the file; one more entry than chunks, the last being the size. */
    public long[] offsets() {
        long[] offsets = new long[count + 1];
        for (int i = 0; i < count; i++) {
            offsets[i + 1] = offsets[i] + rawLength(i);
        }
        return offsets;
    }

    /**
     * Where chunk {@code i} starts in the file ({@code i == chunkCount()} gives the size), without a table of all
     * offsets: from the nearest of every {@value #OFFSET_STRIDE}th one, which the first call notes in one pass.
     */
    public long offset(int i) {
        Objects.checkIndex(i, count + 1);
        long[] stride = strideOffsets;
        if (stride == null) {
            stride = new long[count / OFFSET_STRIDE + 1];
            long at = 0;
            for (int k = 0; k < count; k++) {
                if (k % OFFSET_STRIDE == 0) {
                    stride[k / OFFSET_STRIDE] = at;
                }
                at += rawLength(k);
            }
            if (count % OFFSET_STRIDE == 0) {
                stride[count / OFFSET_STRIDE] = at;
            }
            strideOffsets = stride;
        }
        long at = stride[i / OFFSET_STRIDE];
        for (int k = i - i % OFFSET_STRIDE; k < i; k++) {
            at += rawLength(k);
        }
        return at;
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
        Sha256 d = digest;
        if (d == null) {
            d = table.digest();
            digest = d;
        }
        return d;
    }

    /** The canonical encoding; for a manifest read from a {@link ByteSource}, read whole into a new array. */
    public byte[] encode() {
        return table.encoding();
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
    public static Manifest of(View view) {
        return carried(
                view.payloadType(), view.data(), view.payloadOffset(), view.payloadOffset() + view.payloadLength());
    }

    /**
     * The manifest a stored envelope carries, read from its source as it is used (a window of
     * {@value #WINDOW_CHUNKS} chunks at a time) after one pass that checks it; not verified here either. Accessors fail
     * with an {@link UncheckedIOException} if the source cannot be read any more or changed.
     */
    public static Manifest of(SignedEnvelope.Stored stored) throws IOException {
        if (!stored.payloadType().equals(PAYLOAD_TYPE)) {
            throw BinaryForm.invalid("manifest", "the envelope holds a " + stored.payloadType());
        }
        byte[] head = new byte[(int) Math.min(stored.payloadLength(), HEAD_BYTES_MAX)];
        stored.source().readFully(stored.payloadOffset(), head, 0, head.length);
        try {
            return new Manifest(
                    head,
                    0,
                    head.length,
                    stored.payloadLength(),
                    chunksAt ->
                            new InSource(stored.source(), stored.payloadOffset(), stored.payloadLength(), chunksAt));
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } catch (IllegalArgumentException e) {
            throw BinaryForm.invalid("manifest", e.getMessage());
        }
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
     * The first chunk of each distinct hash, for lookups by hash: an open-addressing table of chunk indexes and 32
     * bits of their hashes, 16 to 32 bytes a chunk rather than a map's 60. The hash bits settle a probe that passes
     * another chunk without reading that chunk's hash, which for a manifest read from its file would be a read.
     */
    public Index index() {
        return new Index(i -> true);
    }

    /** As {@link #index()}, of only the chunks {@code included} says (the others are not found). */
    public Index index(java.util.function.IntPredicate included) {
        return new Index(included);
    }

    /** See {@link #index()}. Not for concurrent use (it compares hashes through one scratch array). */
    public final class Index {
        /** Per slot: the chunk index + 1 in the high half (0: empty), hash bytes 4-7 in the low half. */
        private final long[] slots;

        private final int mask;
        private final byte[] scratch = new byte[Sha256.BYTES];

        private Index(java.util.function.IntPredicate included) {
            int n = 0;
            for (int i = 0; i < count; i++) {
                n += included.test(i) ? 1 : 0;
            }
            int capacity = Integer.highestOneBit(Math.max(2, n * 2) - 1) << 1;
            slots = new long[capacity];
            mask = capacity - 1;
            for (int i = 0; i < count; i++) {
                if (!included.test(i)) {
                    continue;
                }
                table.hash(i, scratch);
                int s = slotOf(scratch);
                if (s >= 0 && slots[s] == 0) {
                    slots[s] = (long) (i + 1) << 32 | (fingerprint(scratch) & 0xffffffffL);
                }
            }
        }

        /** The first chunk of this manifest whose hash is chunk {@code j} of {@code other}, or -1. */
        public int firstOf(Manifest other, int j) {
            other.table.hash(Objects.checkIndex(j, other.count), scratch);
            return chunkIn(slotOf(scratch));
        }

        /** The first chunk of this manifest whose hash is {@code hash}, or -1. */
        public int firstOf(Sha256 hash) {
            hash.writeTo(scratch, 0);
            return chunkIn(slotOf(scratch));
        }

        private int chunkIn(int slot) {
            return slot < 0 ? -1 : (int) (slots[slot] >>> 32) - 1;
        }

        /**
         * The slot holding {@code hash}, or the empty slot where it would go; -1 never happens while the table is at
         * most half full, which its capacity guarantees.
         */
        private int slotOf(byte[] hash) {
            // The bytes of a SHA-256 are uniform already: four of them are a good enough hash code, four more a
            // fingerprint that tells nearly every other hash apart without reading it.
            int s = u32le(hash, 0) & mask;
            int fingerprint = fingerprint(hash);
            for (int probes = 0; probes <= mask; probes++, s = (s + 1) & mask) {
                long held = slots[s];
                if (held == 0 || ((int) held == fingerprint && table.hashEquals((int) (held >>> 32) - 1, hash))) {
                    return s;
                }
            }
            return -1;
        }

        private static int fingerprint(byte[] hash) {
            return u32le(hash, 4);
        }

        private static int u32le(byte[] b, int p) {
            return b[p] & 0xff | (b[p + 1] & 0xff) << 8 | (b[p + 2] & 0xff) << 16 | (b[p + 3] & 0xff) << 24;
        }
    }

    /**
     * The chunk list, 40 bytes a chunk, wherever it is. {@code field} is a byte offset in a chunk's 40 bytes;
     * {@code i} is checked by the caller.
     */
    private abstract static sealed class Table permits InArray, InSource {
        abstract int u32(int i, int field);

        /** Copies chunk {@code i}'s hash into {@code into[0, 32)}. */
        abstract void hash(int i, byte[] into);

        /** Whether chunk {@code i}'s hash is {@code hash[0, 32)}. */
        abstract boolean hashEquals(int i, byte[] hash);

        abstract Sha256 digest();

        abstract byte[] encoding();
    }

    /** The encoding in {@code data[from, to)}, its chunks from {@code chunksAt} on. */
    private static final class InArray extends Table {
        private final byte[] data;
        private final int from;
        private final int to;
        private final int chunksAt;

        InArray(byte[] data, int from, int to, int chunksAt) {
            this.data = data;
            this.from = from;
            this.to = to;
            this.chunksAt = chunksAt;
        }

        private int at(int i) {
            return chunksAt + i * CHUNK_BYTES;
        }

        @Override
        int u32(int i, int field) {
            return BinaryForm.u32(data, at(i) + field);
        }

        @Override
        void hash(int i, byte[] into) {
            System.arraycopy(data, at(i), into, 0, Sha256.BYTES);
        }

        @Override
        boolean hashEquals(int i, byte[] hash) {
            return Arrays.equals(data, at(i), at(i) + Sha256.BYTES, hash, 0, Sha256.BYTES);
        }

        @Override
        Sha256 digest() {
            return Sha256.digest(data, from, to - from);
        }

        @Override
        byte[] encoding() {
            return Arrays.copyOfRange(data, from, to);
        }

        boolean sameBytes(InArray other) {
            return Arrays.equals(data, from, to, other.data, other.from, other.to);
        }
    }

    /**
     * The encoding at {@code [from, from + length)} of a source, read a window of {@value #WINDOW_CHUNKS} chunks at a
     * time (aligned, so that going back a little within the window, as a copy of an earlier chunk does, reads
     * nothing). Synchronized: the window is shared.
     */
    private static final class InSource extends Table {
        private final ByteSource source;
        private final long from;
        private final long length;
        private final long chunksAt;
        private final int count;
        private byte[] window = new byte[0];
        private int first;
        private int filled;

        InSource(ByteSource source, long from, long length, long chunksAt) {
            this.source = source;
            this.from = from;
            this.length = length;
            this.chunksAt = chunksAt;
            this.count = (int) ((length - chunksAt) / CHUNK_BYTES);
        }

        /** Where chunk {@code i} is in the window, after reading the window that holds it if need be. */
        private int at(int i) {
            if (i < first || i >= first + filled) {
                int start = i - i % WINDOW_CHUNKS;
                int n = Math.min(WINDOW_CHUNKS, count - start);
                if (window.length < n * CHUNK_BYTES) {
                    window = new byte[n * CHUNK_BYTES];
                }
                try {
                    source.readFully(from + chunksAt + (long) start * CHUNK_BYTES, window, 0, n * CHUNK_BYTES);
                } catch (IOException e) {
                    filled = 0;
                    throw new UncheckedIOException("cannot read the stored manifest: " + e.getMessage(), e);
                }
                first = start;
                filled = n;
            }
            return (i - first) * CHUNK_BYTES;
        }

        @Override
        synchronized int u32(int i, int field) {
            int p = at(i); // first: it may replace the window
            return BinaryForm.u32(window, p + field);
        }

        @Override
        synchronized void hash(int i, byte[] into) {
            int p = at(i);
            System.arraycopy(window, p, into, 0, Sha256.BYTES);
        }

        @Override
        synchronized boolean hashEquals(int i, byte[] hash) {
            int p = at(i);
            return Arrays.equals(window, p, p + Sha256.BYTES, hash, 0, Sha256.BYTES);
        }

        @Override
        Sha256 digest() {
            try {
                return Sha256.digest(source, from, length);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the stored manifest: " + e.getMessage(), e);
            }
        }

        @Override
        byte[] encoding() {
            byte[] all = new byte[Math.toIntExact(length)];
            try {
                source.readFully(from, all, 0, all.length);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the stored manifest: " + e.getMessage(), e);
            }
            return all;
        }
    }

    /** Same canonical encoding; compared byte by byte when both are in memory, else by digest. */
    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Manifest m)) {
            return false;
        }
        if (table instanceof InArray a && m.table instanceof InArray b) {
            return a.sameBytes(b);
        }
        return digest().equals(m.digest());
    }

    @Override
    public int hashCode() {
        return digest().hashCode();
    }

    @Override
    public String toString() {
        return "Manifest[" + artifact + " v" + version + ", " + size + " bytes in " + count + " chunks, " + sha256
                + "]";
    }
}
