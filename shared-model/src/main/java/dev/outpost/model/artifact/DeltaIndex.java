package dev.outpost.model.artifact;

import java.util.ArrayList;
import java.util.List;

/**
 * The chunk-local deltas the service offers from one manifest to another: for a target chunk, a zstd frame of it
 * compressed against the named held chunks (concatenated in file order) as dictionary. Not signed: whatever a delta
 * decodes to is checked against the signed target manifest before it is written.
 *
 * @param fromManifest SHA-256 of the held manifest's payload
 * @param toManifest SHA-256 of the target manifest's payload
 */
public record DeltaIndex(Sha256 fromManifest, Sha256 toManifest, List<Entry> entries) {
    private static final String MAGIC = "OPDI";
    private static final int FORMAT_VERSION = 1;

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
                    && java.util.Arrays.equals(references, e.references)
                    && hash.equals(e.hash)
                    && length == e.length;
        }

        @Override
        public int hashCode() {
            return target * 31 + hash.hashCode();
        }
    }

    public DeltaIndex {
        entries = List.copyOf(entries);
    }

    public byte[] encode() {
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

    public static DeltaIndex decode(byte[] data) {
        var r = new BinaryForm.Reader(data, "delta index").magic(MAGIC);
        int format = r.u8();
        if (format != FORMAT_VERSION) {
            throw r.invalid("format version " + format + " is not known");
        }
        Sha256 from = r.hash();
        Sha256 to = r.hash();
        long count = r.u32();
        if (count > r.remaining() / 41) {
            throw r.invalid("it announces " + count + " entries in " + r.remaining() + " bytes");
        }
        List<Entry> entries = new ArrayList<>((int) count);
        for (int i = 0; i < count; i++) {
            long target = r.u32();
            int n = r.u8();
            if (n == 0 || n > UpdatePlanner.REFERENCE_CHUNKS_MAX) {
                throw r.invalid("an entry names " + n + " reference chunks");
            }
            int[] refs = new int[n];
            for (int k = 0; k < n; k++) {
                refs[k] = (int) Math.min(r.u32(), Integer.MAX_VALUE);
            }
            Sha256 hash = r.hash();
            long length = r.u32();
            if (target > Integer.MAX_VALUE || length == 0 || length > Integer.MAX_VALUE) {
                throw r.invalid("an entry is out of range");
            }
            entries.add(new Entry((int) target, refs, hash, (int) length));
        }
        r.end();
        return new DeltaIndex(from, to, entries);
    }
}
