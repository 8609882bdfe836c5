package dev.outpost.model.artifact;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What one artifact version is: its chunks in file order, its size and whole-file SHA-256. Encoded in one canonical
 * binary form ({@link #encode()}); the service signs those bytes (see {@link SignedEnvelope}), a device verifies them
 * before it trusts any field. The format is specified in {@code docs/artifacts.md}.
 */
public record Manifest(
        String artifact, long version, long size, Sha256 sha256, long createdAtMs, List<ChunkRef> chunks) {
    public static final String PAYLOAD_TYPE = "application/vnd.outpost.manifest.v1";
    private static final String MAGIC = "OPMF";
    private static final int FORMAT_VERSION = 1;
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    public Manifest {
        checkName(artifact);
        if (version <= 0) {
            throw new IllegalArgumentException("versions start at 1");
        }
        chunks = List.copyOf(chunks);
        long sum = 0;
        for (ChunkRef c : chunks) {
            sum += c.rawLength();
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

    /** Where each chunk starts in the file; one more entry than chunks, the last being the size. */
    public long[] offsets() {
        long[] offsets = new long[chunks.size() + 1];
        for (int i = 0; i < chunks.size(); i++) {
            offsets[i + 1] = offsets[i] + chunks.get(i).rawLength();
        }
        return offsets;
    }

    /** Bytes a device downloads to fetch every chunk whole. */
    public long storedSize() {
        long sum = 0;
        for (ChunkRef c : chunks) {
            sum += c.storedLength();
        }
        return sum;
    }

    public byte[] encode() {
        var w = new BinaryForm.Writer(64 + chunks.size() * 40)
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

    public static Manifest decode(byte[] data) {
        var r = new BinaryForm.Reader(data, "manifest").magic(MAGIC);
        int format = r.u8();
        if (format != FORMAT_VERSION) {
            throw r.invalid("format version " + format + " is not known");
        }
        String artifact = r.text16();
        long version = r.u64();
        long size = r.u64();
        Sha256 sha256 = r.hash();
        long created = r.u64();
        long count = r.u32();
        if (count * 40 != r.remaining()) {
            throw r.invalid("it announces " + count + " chunks but holds " + r.remaining() + " bytes of them");
        }
        List<ChunkRef> chunks = new ArrayList<>((int) count);
        try {
            for (int i = 0; i < count; i++) {
                chunks.add(new ChunkRef(r.hash(), (int) r.u32(), (int) r.u32()));
            }
            r.end();
            return new Manifest(artifact, version, size, sha256, created, chunks);
        } catch (IllegalArgumentException e) {
            throw r.invalid(e.getMessage());
        }
    }
}
