package dev.outpost.model.artifact;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The deltas the service offers from one manifest to another: for a target chunk, a frame that decodes to it against
 * the named held chunks (concatenated in file order), either a zstd frame compressed with them as dictionary
 * ({@link Kind#CHUNK_LOCAL}) or a {@link TensorDelta} ({@link Kind#TENSOR}). Not signed: whatever a delta decodes to is
 * checked against the signed target manifest before it is written. A chunk may have one of each; a device takes the
 * smaller. Format 1 has chunk-local entries only (what devices from before tensor deltas read, {@link
 * #chunkLocalOnly}); format 2 gives each entry its kind and is used exactly when there is a tensor entry.
 *
 * <p>Kept as its canonical encoding and where each entry starts in it (some 50 bytes an entry rather than 170 as
 * objects: a 4 GB update offers thousands); {@link #entry} makes an {@link Entry} when it is asked for.
 */
public final class DeltaIndex {
    private static final String MAGIC = "OPDI";
    private static final int FORMAT_CHUNK_LOCAL = 1;
    private static final int FORMAT_KINDS = 2;
    /** The smallest entry: target, reference count, one reference, hash, length. */
    private static final int ENTRY_BYTES_MIN = 4 + 1 + 4 + Sha256.BYTES + 4;

    /** How a delta frame decodes. */
    public enum Kind {
        /** A zstd frame with the reference as its raw-content dictionary ({@link ChunkCodec#applyDelta}). */
        CHUNK_LOCAL,
        /** A {@link TensorDelta} frame. */
        TENSOR;

        private static final Kind[] ALL = values();
    }

    private final int format;

    private final Sha256 fromManifest;
    private final Sha256 toManifest;
    private final byte[] encoded;
    /** Where entry {@code k} starts in {@link #encoded}. */
    private final int[] at;

    /**
     * @param target index of the chunk in the target manifest
     * @param references indexes of held chunks, ascending, whose bytes form the dictionary
     * @param hash SHA-256 of the delta frame, its address
     * @param length bytes of the delta frame
     */
    public record Entry(int target, Kind kind, int[] references, Sha256 hash, int length) {
        public Entry {
            references = references.clone();
        }

        /** A chunk-local delta. */
        public Entry(int target, int[] references, Sha256 hash, int length) {
            this(target, Kind.CHUNK_LOCAL, references, hash, length);
        }

        @Override
        public int[] references() {
            return references.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e
                    && target == e.target
                    && kind == e.kind
                    && Arrays.equals(references, e.references)
                    && hash.equals(e.hash)
                    && length == e.length;
        }

        @Override
        public int hashCode() {
            return target * 31 + hash.hashCode();
        }
    }

    /**
     * @param fromManifest SHA-256 of the held manifest's payload
     * @param toManifest SHA-256 of the target manifest's payload
     */
    public DeltaIndex(Sha256 fromManifest, Sha256 toManifest, List<Entry> entries) {
        this(encode(fromManifest, toManifest, entries));
    }

    private static byte[] encode(Sha256 fromManifest, Sha256 toManifest, List<Entry> entries) {
        boolean kinds = entries.stream().anyMatch(e -> e.kind() != Kind.CHUNK_LOCAL);
        var w = new BinaryForm.Writer(80 + entries.size() * 49)
                .magic(MAGIC)
                .u8(kinds ? FORMAT_KINDS : FORMAT_CHUNK_LOCAL)
                .hash(fromManifest)
                .hash(toManifest)
                .u32(entries.size());
        for (Entry e : entries) {
            w.u32(e.target());
            if (kinds) {
                w.u8(e.kind().ordinal());
            }
            w.u8(e.references.length);
            for (int r : e.references) {
                w.u32(r);
            }
            w.hash(e.hash()).u32(e.length());
        }
        return w.toByteArray();
    }

    /** Reads and checks {@code data}, which is kept, not copied. */
    private DeltaIndex(byte[] data) {
        var r = new BinaryForm.Reader(data, "delta index").magic(MAGIC);
        this.format = r.u8();
        if (format != FORMAT_CHUNK_LOCAL && format != FORMAT_KINDS) {
            throw r.invalid("format version " + format + " is not known");
        }
        this.fromManifest = r.hash();
        this.toManifest = r.hash();
        long count = r.u32();
        if (count > r.remaining() / ENTRY_BYTES_MIN) {
            throw r.invalid("it announces " + count + " entries in " + r.remaining() + " bytes");
        }
        this.encoded = data;
        this.at = new int[(int) count];
        boolean tensor = false;
        for (int k = 0; k < count; k++) {
            at[k] = r.position();
            long target = r.u32();
            if (format == FORMAT_KINDS) {
                int kind = r.u8();
                if (kind >= Kind.ALL.length) {
                    throw r.invalid("an entry's kind " + kind + " is not known");
                }
                tensor |= Kind.ALL[kind] == Kind.TENSOR;
            }
            int n = r.u8();
            if (n == 0 || n > UpdatePlanner.REFERENCE_CHUNKS_MAX) {
                throw r.invalid("an entry names " + n + " reference chunks");
            }
            for (int i = 0; i < n; i++) {
                r.u32();
            }
            r.hash();
            long length = r.u32();
            if (target > Integer.MAX_VALUE || length == 0 || length > Integer.MAX_VALUE) {
                throw r.invalid("an entry is out of range");
            }
        }
        if (format == FORMAT_KINDS && !tensor) {
            throw r.invalid("format 2 without a tensor entry (that index is written as format 1)");
        }
        r.end();
    }

    public static DeltaIndex decode(byte[] data) {
        return new DeltaIndex(data.clone());
    }

    public byte[] encode() {
        return encoded.clone();
    }

    public Sha256 fromManifest() {
        return fromManifest;
    }

    public Sha256 toManifest() {
        return toManifest;
    }

    public int size() {
        return at.length;
    }

    /** The target chunk entry {@code k} produces. */
    public int target(int k) {
        return u32(at[k]);
    }

    /** Bytes of entry {@code k}'s delta frame. */
    public int length(int k) {
        return u32(referencesAt(k) + 1 + 4 * references(k) + Sha256.BYTES);
    }

    public Kind kind(int k) {
        return format == FORMAT_KINDS ? Kind.ALL[encoded[at[k] + 4]] : Kind.CHUNK_LOCAL;
    }

    /** Where entry {@code k}'s reference count is. */
    private int referencesAt(int k) {
        return at[k] + (format == FORMAT_KINDS ? 5 : 4);
    }

    private int references(int k) {
        return encoded[referencesAt(k)] & 0xff;
    }

    public Entry entry(int k) {
        Objects.checkIndex(k, at.length);
        int p = referencesAt(k) + 1;
        int n = references(k);
        int[] refs = new int[n];
        for (int i = 0; i < n; i++) {
            refs[i] = (int) Math.min(Integer.toUnsignedLong(u32(p + 4 * i)), Integer.MAX_VALUE);
        }
        int h = p + 4 * n;
        return new Entry(
                target(k), kind(k), refs, Sha256.of(Arrays.copyOfRange(encoded, h, h + Sha256.BYTES)), length(k));
    }

    /**
     * This index as a device from before tensor deltas reads it: its chunk-local entries, in format 1 (the same
     * bytes when it has no other).
     */
    public byte[] chunkLocalOnly() {
        if (format == FORMAT_CHUNK_LOCAL) {
            return encode();
        }
        return encode(
                fromManifest,
                toManifest,
                entries().stream().filter(e -> e.kind() == Kind.CHUNK_LOCAL).toList());
    }

    /** The entries as a read-only view that makes each one as it is asked for. */
    public List<Entry> entries() {
        return new IndexedList<>(at.length, this::entry);
    }

    private int u32(int p) {
        return BinaryForm.u32(encoded, p);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeltaIndex d && Arrays.equals(encoded, d.encoded);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encoded);
    }

    @Override
    public String toString() {
        return "DeltaIndex[" + at.length + " entries, " + fromManifest + " -> " + toManifest + "]";
    }
}
