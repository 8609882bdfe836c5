package dev.outpost.model.artifact;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The chunk-local deltas the service offers from one manifest to another: for a target chunk, a zstd frame of it
 * compressed against the named held chunks (concatenated in file order) as dictionary. Not signed: whatever a delta
 * decodes to is checked against the signed target manifest before it is written.
 *
 * <p>Kept as its canonical encoding and where each entry starts in it (some 50 bytes an entry rather than 170 as
 * objects: a 4 GB update offers thousands); {@link #entry} makes an {@link Entry} when it is asked for.
 */
public final class DeltaIndex {
    private static final String MAGIC = "OPDI";
    private static final int FORMAT_VERSION = 1;
    /** The smallest entry: target, reference count, one reference, hash, length. */
    private static final int ENTRY_BYTES_MIN = 4 + 1 + 4 + Sha256.BYTES + 4;

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
    public record Entry(int target, int[] references, Sha256 hash, int length) {
        public Entry {
            references = references.clone();
        }

        @Override
        public int[] references() {
            return references.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e
                    && target == e.target
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
        var w = new BinaryForm.Writer(80 + entries.size() * 48)
                .magic(MAGIC)
                .u8(FORMAT_VERSION)
                .hash(fromManifest)
                .hash(toManifest)
                .u32(entries.size());
        for (Entry e : entries) {
            w.u32(e.target()).u8(e.references.length);
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
        int format = r.u8();
        if (format != FORMAT_VERSION) {
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
        for (int k = 0; k < count; k++) {
            at[k] = r.position();
            long target = r.u32();
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
        return u32(at[k] + 5 + 4 * references(k) + Sha256.BYTES);
    }

    private int references(int k) {
        return encoded[at[k] + 4] & 0xff;
    }

    public Entry entry(int k) {
        int p = at[Objects.checkIndex(k, at.length)];
        int n = references(k);
        int[] refs = new int[n];
        for (int i = 0; i < n; i++) {
            refs[i] = (int) Math.min(Integer.toUnsignedLong(u32(p + 5 + 4 * i)), Integer.MAX_VALUE);
        }
        int h = p + 5 + 4 * n;
        return new Entry(target(k), refs, Sha256.of(Arrays.copyOfRange(encoded, h, h + Sha256.BYTES)), length(k));
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
