package dev.outpost.model.artifact;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * A target chunk as the difference from the same tensors in the held version: what a retrained model needs, where
 * every weight moved a little. Each element of a tensor is taken as an integer of its width and replaced by the
 * zigzag of its difference from the held element ({@link Transform#DIFFERENCE}; {@link Transform#XOR} is the plain
 * bitwise one), the results are split into byte planes (every element's lowest byte, then every element's next
 * byte...), and the planes compressed with zstd: a fine-tune moves the low mantissa bits and leaves sign, exponent
 * and high mantissa, so the high planes are nearly all zero and the low ones carry the change. Bytes outside tensors
 * the held version has with the same name, type and shape travel as they are, in the same zstd frame.
 *
 * <p>The reference is the same as a chunk-local delta's (held chunks, concatenated in file order, at most
 * {@link UpdatePlanner#REFERENCE_CHUNKS_MAX} chunks and {@link UpdatePlanner#REFERENCE_BYTES_MAX} bytes), so a
 * device reads it the same way; each segment says where in it its held elements start. The format is in
 * docs/artifacts.md ("Tensor delta").
 */
public final class TensorDelta {
    private static final String MAGIC = "OPTD";
    private static final int FORMAT_VERSION = 1;
    /** Segments in one frame at most: a 256 KiB chunk of 1-element tensors would be far fewer. */
    public static final int SEGMENTS_MAX = 4096;

    /**
     * Tensor deltas are computed once per version pair, like chunk-local ones, so they take the strongest level: on a
     * retrained float32 pair it makes the planes 4% smaller than level 9, for ten times the time.
     */
    public static final int LEVEL = 19;

    private TensorDelta() {}

    /** How a segment's bytes are written. */
    public enum Transform {
        /** The target bytes as they are. */
        LITERAL,
        /** Each byte XOR the held byte, in byte planes. */
        XOR,
        /** Each element minus the held element (an integer of the element's width, wrapping), zigzag, in planes. */
        DIFFERENCE;

        private static final Transform[] ALL = values();
    }

    /**
     * {@code length} bytes of the target chunk, in order after the previous segment. A tensor segment's elements are
     * {@code elementBytes} wide and whole, and its held elements start at {@code referenceOffset} of the reference.
     */
    public record Segment(Transform transform, int length, int elementBytes, int referenceOffset) {
        public static Segment literal(int length) {
            return new Segment(Transform.LITERAL, length, 1, 0);
        }
    }

    /** How a target chunk maps onto the held version: its segments and the held chunks they read. */
    public record Mapping(List<Segment> segments, int[] references) {
        public Mapping {
            segments = List.copyOf(segments);
            references = references.clone();
        }

        @Override
        public int[] references() {
            return references.clone();
        }

        /** Bytes the tensor segments cover. */
        public long tensorBytes() {
            return segments.stream()
                    .filter(s -> s.transform() != Transform.LITERAL)
                    .mapToLong(Segment::length)
                    .sum();
        }
    }

    /**
     * How target chunk {@code [chunkStart, chunkStart + chunkLength)} maps onto {@code held}: every whole element of
     * a target tensor that the held layout has with the same name, dtype and shape becomes a segment of
     * {@code transform} against the held element at the same place; the rest is literal. Held chunks are added to the
     * reference in the order the segments need them while they fit its bounds; a segment whose chunks do not fit is
     * literal. Empty when no tensor segment remains.
     */
    public static Optional<Mapping> map(
            Manifest held,
            TensorLayout heldLayout,
            TensorLayout targetLayout,
            long chunkStart,
            int chunkLength,
            Transform transform) {
        long chunkEnd = chunkStart + chunkLength;
        long[] ho = held.offsets();
        // The tensor pieces: [target start, target end, held start, width], in target order.
        List<long[]> pieces = new ArrayList<>();
        TreeSet<Integer> chosen = new TreeSet<>();
        long chosenBytes = 0;
        for (TensorLayout.Tensor t : targetLayout.tensors()) {
            if (t.end() <= chunkStart || t.start() >= chunkEnd) {
                continue;
            }
            TensorLayout.Tensor h = heldLayout.get(t.name()).orElse(null);
            if (h == null || !h.sameAs(t)) {
                continue;
            }
            int w = t.elementBytes();
            long from = Math.max(chunkStart, t.start());
            long to = Math.min(chunkEnd, t.end());
            from = t.start() + Math.ceilDiv(from - t.start(), w) * w;
            to = t.start() + Math.floorDiv(to - t.start(), w) * w;
            if (to <= from) {
                continue;
            }
            long heldFrom = h.start() + (from - t.start());
            int first = chunkAt(ho, heldFrom);
            int last = chunkAt(ho, heldFrom + (to - from) - 1);
            TreeSet<Integer> more = new TreeSet<>();
            long moreBytes = 0;
            for (int k = first; k <= last; k++) {
                if (!chosen.contains(k)) {
                    more.add(k);
                    moreBytes += held.rawLength(k);
                }
            }
            if (chosen.size() + more.size() > UpdatePlanner.REFERENCE_CHUNKS_MAX
                    || chosenBytes + moreBytes > UpdatePlanner.REFERENCE_BYTES_MAX) {
                continue;
            }
            chosen.addAll(more);
            chosenBytes += moreBytes;
            pieces.add(new long[] {from, to, heldFrom, w});
        }
        if (pieces.isEmpty()) {
            return Optional.empty();
        }
        int[] refs = chosen.stream().mapToInt(Integer::intValue).toArray();
        List<Segment> segments = new ArrayList<>();
        long at = chunkStart;
        for (long[] p : pieces) {
            if (p[0] > at) {
                segments.add(Segment.literal((int) (p[0] - at)));
            }
            // Where the held start lies in the concatenated reference: the chosen chunks before its chunk, then
            // its place in that chunk (a piece's chunks are consecutive in the file and all chosen).
            int k = chunkAt(ho, p[2]);
            long offset = p[2] - ho[k];
            for (int r : refs) {
                if (r < k) {
                    offset += held.rawLength(r);
                }
            }
            segments.add(new Segment(transform, (int) (p[1] - p[0]), (int) p[3], (int) offset));
            at = p[1];
        }
        if (chunkEnd > at) {
            segments.add(Segment.literal((int) (chunkEnd - at)));
        }
        if (segments.size() > SEGMENTS_MAX) {
            return Optional.empty();
        }
        return Optional.of(new Mapping(segments, refs));
    }

    private static int chunkAt(long[] offsets, long position) {
        int k = Arrays.binarySearch(offsets, 0, offsets.length - 1, position);
        return k >= 0 ? k : -k - 2;
    }

    /** The frame for {@code target} as {@code segments} against the first {@code referenceLength} reference bytes. */
    public static byte[] encode(
            byte[] target, List<Segment> segments, byte[] reference, int referenceLength, int level) {
        check(segments, target.length, referenceLength);
        byte[] payload = new byte[target.length];
        int at = 0;
        for (Segment s : segments) {
            if (s.transform() == Transform.LITERAL) {
                System.arraycopy(target, at, payload, at, s.length());
            } else {
                forward(s, target, at, reference, payload);
            }
            at += s.length();
        }
        byte[] packed;
        try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
            ctx.setLevel(level);
            ctx.setChecksum(false);
            packed = ctx.compress(payload);
        }
        var w = new BinaryForm.Writer(16 + segments.size() * 10 + packed.length)
                .magic(MAGIC)
                .u8(FORMAT_VERSION)
                .u32(target.length)
                .u16(segments.size());
        for (Segment s : segments) {
            w.u8(s.transform().ordinal()).u32(s.length());
            if (s.transform() != Transform.LITERAL) {
                w.u8(s.elementBytes()).u32(s.referenceOffset());
            }
        }
        byte[] head = w.toByteArray();
        byte[] frame = Arrays.copyOf(head, head.length + packed.length);
        System.arraycopy(packed, 0, frame, head.length, packed.length);
        return frame;
    }

    /**
     * The target chunk {@code frame} encodes against the first {@code referenceLength} bytes of {@code reference};
     * {@code chunk-corrupt} when the frame does not hold together, names bytes past the reference, or does not
     * decode to exactly {@code rawLength} bytes. The caller checks the result against the signed manifest.
     */
    public static byte[] decode(byte[] frame, byte[] reference, int referenceLength, int rawLength) {
        List<Segment> segments = new ArrayList<>();
        int payloadAt;
        try {
            var r = new BinaryForm.Reader(frame, "tensor delta").magic(MAGIC);
            int format = r.u8();
            if (format != FORMAT_VERSION) {
                throw r.invalid("format version " + format + " is not known");
            }
            long length = r.u32();
            if (length != rawLength) {
                throw r.invalid("it is for a chunk of " + length + " bytes, not " + rawLength);
            }
            int n = r.u16();
            for (int i = 0; i < n; i++) {
                int t = r.u8();
                if (t >= Transform.ALL.length) {
                    throw r.invalid("segment transform " + t + " is not known");
                }
                Transform transform = Transform.ALL[t];
                long segmentLength = Math.min(r.u32(), Integer.MAX_VALUE);
                segments.add(
                        transform == Transform.LITERAL
                                ? Segment.literal((int) segmentLength)
                                : new Segment(transform, (int) segmentLength, r.u8(), (int)
                                        Math.min(r.u32(), Integer.MAX_VALUE)));
            }
            payloadAt = r.position();
            check(segments, rawLength, referenceLength);
        } catch (OutpostException | IllegalArgumentException e) {
            throw new OutpostException(
                    ErrorCode.CHUNK_CORRUPT, "a tensor delta does not hold together: " + e.getMessage());
        }
        byte[] payload = new byte[rawLength];
        try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
            int n = ctx.decompressByteArray(payload, 0, rawLength, frame, payloadAt, frame.length - payloadAt);
            if (n != rawLength) {
                throw new OutpostException(
                        ErrorCode.CHUNK_CORRUPT, "a tensor delta decoded to " + n + " bytes, not " + rawLength);
            }
        } catch (ZstdException e) {
            throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta does not decode: " + e.getMessage());
        }
        byte[] out = new byte[rawLength];
        int at = 0;
        for (Segment s : segments) {
            if (s.transform() == Transform.LITERAL) {
                System.arraycopy(payload, at, out, at, s.length());
            } else {
                inverse(s, payload, at, reference, out);
            }
            at += s.length();
        }
        return out;
    }

    /** Segments that cover exactly {@code length} bytes, with whole elements of 1, 2, 4 or 8 inside the reference. */
    private static void check(List<Segment> segments, int length, int referenceLength) {
        if (segments.isEmpty() || segments.size() > SEGMENTS_MAX) {
            throw new IllegalArgumentException(segments.size() + " segments");
        }
        long total = 0;
        for (Segment s : segments) {
            int w = s.elementBytes();
            if (s.length() <= 0
                    || (s.transform() != Transform.LITERAL
                            && ((w != 1 && w != 2 && w != 4 && w != 8)
                                    || s.length() % w != 0
                                    || s.referenceOffset() < 0
                                    || (long) s.referenceOffset() + s.length() > referenceLength))) {
                throw new IllegalArgumentException("a segment is out of range: " + s);
            }
            total += s.length();
        }
        if (total != length) {
            throw new IllegalArgumentException("the segments cover " + total + " bytes, not " + length);
        }
    }

    /** Writes segment {@code s} of {@code target} (starting at {@code at}) into {@code payload}, transformed. */
    private static void forward(Segment s, byte[] target, int at, byte[] reference, byte[] payload) {
        int w = s.elementBytes();
        int elements = s.length() / w;
        int ref = s.referenceOffset();
        int bits = 8 * w;
        for (int e = 0; e < elements; e++) {
            int p = at + e * w;
            int o = ref + e * w;
            long v;
            if (s.transform() == Transform.XOR) {
                v = element(target, p, w) ^ element(reference, o, w);
            } else {
                long d = element(target, p, w) - element(reference, o, w);
                d = d << (64 - bits) >> (64 - bits);
                v = d << 1 ^ d >> 63;
            }
            for (int b = 0; b < w; b++) {
                payload[at + b * elements + e] = (byte) (v >>> (8 * b));
            }
        }
    }

    /**
     * The inverse of {@link #forward}: segment {@code s} of the target, from {@code payload}, into {@code out}. The
     * common widths of a difference have loops of their own: this is what a device runs for every byte of a
     * retrained model, and the general loop is several times slower.
     */
    private static void inverse(Segment s, byte[] payload, int at, byte[] reference, byte[] out) {
        int w = s.elementBytes();
        int n = s.length() / w;
        int ref = s.referenceOffset();
        // One small method a case: a device compiles each within its per-method compiler memory cap (2 MB,
        // model.compile-commands), which one method with every loop exceeded, leaving it interpreted.
        if (s.transform() == Transform.XOR) {
            inverseXor(payload, at, n, w, reference, ref, out);
        } else if (w == 4) {
            inverseDifference4(payload, at, n, reference, ref, out);
        } else if (w == 2) {
            inverseDifference2(payload, at, n, reference, ref, out);
        } else if (w == 1) {
            inverseDifference1(payload, at, n, reference, ref, out);
        } else {
            inverseDifference(payload, at, n, w, reference, ref, out);
        }
    }

    private static void inverseDifference4(byte[] payload, int at, int n, byte[] reference, int ref, byte[] out) {
        for (int e = 0; e < n; e++) {
            int v = (payload[at + e] & 0xff)
                    | (payload[at + n + e] & 0xff) << 8
                    | (payload[at + 2 * n + e] & 0xff) << 16
                    | payload[at + 3 * n + e] << 24;
            int o = ref + 4 * e;
            int value = ((reference[o] & 0xff)
                            | (reference[o + 1] & 0xff) << 8
                            | (reference[o + 2] & 0xff) << 16
                            | reference[o + 3] << 24)
                    + (v >>> 1 ^ -(v & 1));
            int p = at + 4 * e;
            out[p] = (byte) value;
            out[p + 1] = (byte) (value >>> 8);
            out[p + 2] = (byte) (value >>> 16);
            out[p + 3] = (byte) (value >>> 24);
        }
    }

    private static void inverseDifference2(byte[] payload, int at, int n, byte[] reference, int ref, byte[] out) {
        for (int e = 0; e < n; e++) {
            int v = (payload[at + e] & 0xff) | (payload[at + n + e] & 0xff) << 8;
            int o = ref + 2 * e;
            int value = ((reference[o] & 0xff) | (reference[o + 1] & 0xff) << 8) + (v >>> 1 ^ -(v & 1));
            int p = at + 2 * e;
            out[p] = (byte) value;
            out[p + 1] = (byte) (value >>> 8);
        }
    }

    private static void inverseDifference1(byte[] payload, int at, int n, byte[] reference, int ref, byte[] out) {
        for (int e = 0; e < n; e++) {
            int v = payload[at + e] & 0xff;
            out[at + e] = (byte) (reference[ref + e] + (v >>> 1 ^ -(v & 1)));
        }
    }

    private static void inverseXor(byte[] payload, int at, int n, int w, byte[] reference, int ref, byte[] out) {
        for (int b = 0; b < w; b++) {
            int plane = at + b * n;
            for (int e = 0; e < n; e++) {
                out[at + e * w + b] = (byte) (payload[plane + e] ^ reference[ref + e * w + b]);
            }
        }
    }

    private static void inverseDifference(byte[] payload, int at, int n, int w, byte[] reference, int ref, byte[] out) {
        for (int e = 0; e < n; e++) {
            long v = 0;
            for (int b = 0; b < w; b++) {
                v |= (payload[at + b * n + e] & 0xffL) << (8 * b);
            }
            long value = element(reference, ref + e * w, w) + (v >>> 1 ^ -(v & 1));
            for (int b = 0; b < w; b++) {
                out[at + e * w + b] = (byte) (value >>> (8 * b));
            }
        }
    }

    /** The little-endian element of {@code w} bytes at {@code p}, zero-extended. */
    private static long element(byte[] b, int p, int w) {
        long v = 0;
        for (int i = w - 1; i >= 0; i--) {
            v = v << 8 | (b[p + i] & 0xff);
        }
        return v;
    }
}
