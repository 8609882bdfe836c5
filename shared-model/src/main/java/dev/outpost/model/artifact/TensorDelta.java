package dev.outpost.model.artifact;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * A target chunk as the difference from the same tensors in the held version: what a retrained model needs, where
 * every weight moved a little. Each element of a tensor is taken as an integer of its width and its difference from
 * the held element (wrapping) is zigzag-encoded: a fine-tune moves the low mantissa bits and leaves sign, exponent
 * and high mantissa, so the result is small. The service writes it as {@link Transform#CLASSES}: a byte per element
 * for its bit length (plus the held element's exponent, which makes it nearly constant), zstd-coded, and the bits
 * below the leading one raw; in a float32, float16 or bfloat16 matrix, against a rank-one estimate of the change
 * instead of the held element wherever that comes out smaller ({@link Transform#PREDICTED}).
 * {@link Transform#DIFFERENCE} and {@link Transform#XOR} in byte planes are the simpler forms it was measured against.
 * Bytes outside tensors the held version has with the same name, type and shape travel as they are, in the same zstd
 * frame.
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

    /** The transform the service writes for tensor segments (the others are decoded, and kept for comparison). */
    public static final Transform TRANSFORM = Transform.CLASSES;

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
        DIFFERENCE,
        /**
         * The zigzag difference as a magnitude class and raw bits: the class is its bit length plus the held
         * element's exponent field (a fine-tune moves weights by similar amounts whatever their size, so the bit
         * length falls as the exponent rises and their sum is nearly constant), one byte an element; then the bits
         * below the leading one, packed. Close to the entropy of the differences, where byte planes spend a few bits
         * more an element.
         */
        CLASSES,
        /**
         * {@link #CLASSES} against a prediction instead of the held element: the held float32, float16 or bfloat16
         * element plus the segment's rank-one estimate of the change, {@code rowFactor[row] * columnFactor[column]}
         * ({@link Prediction}). Training moves a weight matrix along a few directions (each step's gradient is an
         * outer product of activations and errors), so one row factor and one column factor catch much of every
         * element's change: on a retrained float32 pair its residuals are 1 to 2 bits an element shorter, for 4 bits a
         * row and a column of the segment. The service writes it where it comes out smaller than {@link #CLASSES}.
         */
        PREDICTED;

        private static final Transform[] ALL = values();

        /** Whether segments of this transform are written as classes: a class byte an element and raw bits. */
        boolean classes() {
            return this == CLASSES || this == PREDICTED;
        }
    }

    /**
     * {@code length} bytes of the target chunk, in order after the previous segment. A tensor segment's elements are
     * {@code elementBytes} wide and whole, and its held elements start at {@code referenceOffset} of the reference. A
     * {@link Transform#CLASSES} segment's elements have an exponent field of {@code exponentBits} bits from bit
     * {@code exponentShift} (0 bits for integers).
     */
    public record Segment(
            Transform transform,
            int length,
            int elementBytes,
            int referenceOffset,
            int exponentShift,
            int exponentBits,
            Grid grid,
            Prediction prediction) {
        public Segment(Transform transform, int length, int elementBytes, int referenceOffset) {
            this(transform, length, elementBytes, referenceOffset, 0, 0);
        }

        public Segment(
                Transform transform,
                int length,
                int elementBytes,
                int referenceOffset,
                int exponentShift,
                int exponentBits) {
            this(transform, length, elementBytes, referenceOffset, exponentShift, exponentBits, null, null);
        }

        /** This segment with the place of its elements in their tensor's rows (what a prediction is fitted to). */
        public Segment on(Grid grid) {
            return new Segment(
                    transform, length, elementBytes, referenceOffset, exponentShift, exponentBits, grid, null);
        }

        public static Segment literal(int length) {
            return new Segment(Transform.LITERAL, length, 1, 0);
        }
    }

    /**
     * Where a segment's elements lie in their tensor: rows of {@code rowLength} elements, the first element in
     * column {@code column}. Elements {@code e} of the segment is in its row {@code (column + e) / rowLength}.
     */
    public record Grid(int rowLength, int column) {
        public Grid {
            if (rowLength < 1 || column < 0 || column >= rowLength) {
                throw new IllegalArgumentException("no grid of rows of " + rowLength + " from column " + column);
            }
        }

        /** Rows that {@code elements} elements from {@link #column} touch. */
        public int rows(int elements) {
            return (int) Math.ceilDiv((long) column + elements, rowLength);
        }

        /**
         * The columns that {@code elements} elements touch, as {@code [first, first + count)}: all of them once the
         * elements run into a second row.
         */
        int firstColumn(int elements) {
            return rows(elements) == 1 ? column : 0;
        }

        int columns(int elements) {
            return rows(elements) == 1 ? elements : rowLength;
        }
    }

    /**
     * A {@link Transform#PREDICTED} segment's rank-one estimate of its change: row {@code i} (of {@link Grid#rows})
     * moves by {@code (scale * rowFactors[i]) * columnFactors[j]} in column {@code j} (of {@link Grid#columns}, from
     * {@link Grid#firstColumn}), in float32 arithmetic; the factors are integers of 4 bits, -8 to 7 (the service
     * writes -7 to 7), two to a byte on the wire. The column factors of a chunk of a few rows are most of the cost, and
     * the residuals hardly notice how coarse they are (numpy, the retrained pairs' chunks; net of the factors: 16 rows
     * of 1024, 0.22 MB saved with binary16 factors, 0.42 MB with 8 bits, 0.49 MB with 4, 0.42 MB with 3; 9 rows of
     * 2048, 0.1 MB with 8 bits, 1.2 MB with 4).
     */
    public record Prediction(float scale, byte[] rowFactors, byte[] columnFactors) {
        /** The largest factor the service writes: factors are scaled into [-FACTOR_MAX, FACTOR_MAX]. */
        static final int FACTOR_MAX = 7;

        public Prediction {
            rowFactors = rowFactors.clone();
            columnFactors = columnFactors.clone();
            for (byte[] factors : List.of(rowFactors, columnFactors)) {
                for (byte f : factors) {
                    if (f < -8 || f > 7) {
                        throw new IllegalArgumentException("a factor of " + f + " is not 4 bits");
                    }
                }
            }
        }

        @Override
        public byte[] rowFactors() {
            return rowFactors.clone();
        }

        @Override
        public byte[] columnFactors() {
            return columnFactors.clone();
        }

        /** Each row's factor times the scale, as the element loop multiplies it by a column's. */
        float[] rows() {
            float[] a = new float[rowFactors.length];
            for (int i = 0; i < a.length; i++) {
                a[i] = scale * rowFactors[i];
            }
            return a;
        }

        float[] columns() {
            float[] v = new float[columnFactors.length];
            for (int j = 0; j < v.length; j++) {
                v[j] = columnFactors[j];
            }
            return v;
        }
    }

    /** The element types a {@link Transform#PREDICTED} segment may have, told apart by width and exponent field. */
    static final int FLOAT32 = 0;

    static final int FLOAT16 = 1;
    static final int BFLOAT16 = 2;

    /** {@link #FLOAT32}, {@link #FLOAT16} or {@link #BFLOAT16} for a segment's width and exponent field; else -1. */
    static int floatKind(int elementBytes, int exponentShift, int exponentBits) {
        if (elementBytes == 4 && exponentShift == 23 && exponentBits == 8) {
            return FLOAT32;
        } else if (elementBytes == 2 && exponentShift == 10 && exponentBits == 5) {
            return FLOAT16;
        } else if (elementBytes == 2 && exponentShift == 7 && exponentBits == 8) {
            return BFLOAT16;
        }
        return -1;
    }

    /** The value of element {@code bits} of {@code kind} (exact in float32 for all three). */
    static float toFloat(int kind, int bits) {
        return switch (kind) {
            case FLOAT32 -> Float.intBitsToFloat(bits);
            case FLOAT16 -> Float.float16ToFloat((short) bits);
            default -> Float.intBitsToFloat(bits << 16);
        };
    }

    /**
     * The predicted element of {@code kind}: {@code held} (its bits) plus {@code change}, added in float32 and, for the
     * 16-bit types, rounded to nearest even into the type, as IEEE arithmetic rounds on every platform; the held
     * element itself when the sum is not a number (a NaN's bits are not the same on every processor). The service and
     * the device both call this: the residuals are against exactly these bits.
     */
    static int predict(int kind, int held, float change) {
        float p = toFloat(kind, held) + change;
        if (Float.isNaN(p)) {
            return held;
        }
        return switch (kind) {
            case FLOAT32 -> Float.floatToRawIntBits(p);
            case FLOAT16 -> Float.floatToFloat16(p) & 0xffff;
            default -> {
                int f = Float.floatToRawIntBits(p);
                yield ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
            }
        };
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
    }

    /** A held version and a target version's layouts, read once for all the target's chunks. */
    public static final class Pairing {
        private final Manifest held;
        private final long[] heldOffsets;
        private final TensorLayout heldLayout;
        private final TensorLayout targetLayout;

        public Pairing(Manifest held, TensorLayout heldLayout, TensorLayout targetLayout) {
            this.held = held;
            this.heldOffsets = held.offsets();
            this.heldLayout = heldLayout;
            this.targetLayout = targetLayout;
        }
    }

    /**
     * How target chunk {@code [chunkStart, chunkStart + chunkLength)} maps onto the held version of {@code pairing}: every whole element of
     * a target tensor that the held layout has with the same name, dtype and shape becomes a segment of
     * {@code transform} against the held element at the same place ({@link Transform#DIFFERENCE} for
     * {@link Transform#CLASSES} in integer tensors); the rest is literal. Held chunks are added to the
     * reference in the order the segments need them while they fit its bounds; a segment whose chunks do not fit is
     * literal. Empty when no tensor segment remains.
     */
    public static Optional<Mapping> map(Pairing pairing, long chunkStart, int chunkLength, Transform transform) {
        Manifest held = pairing.held;
        TensorLayout heldLayout = pairing.heldLayout;
        TensorLayout targetLayout = pairing.targetLayout;
        long chunkEnd = chunkStart + chunkLength;
        long[] ho = pairing.heldOffsets;
        // The tensor pieces: target bytes [from, to) of a tensor, whose held elements start at heldFrom; in target
        // order.
        record Piece(long from, long to, long heldFrom, TensorLayout.Tensor tensor) {}
        List<Piece> pieces = new ArrayList<>();
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
            int first = Manifest.chunkAt(ho, heldFrom);
            int last = Manifest.chunkAt(ho, heldFrom + (to - from) - 1);
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
            pieces.add(new Piece(from, to, heldFrom, t));
        }
        if (pieces.isEmpty()) {
            return Optional.empty();
        }
        int[] refs = chosen.stream().mapToInt(Integer::intValue).toArray();
        List<Segment> segments = new ArrayList<>();
        long at = chunkStart;
        for (Piece p : pieces) {
            if (p.from() > at) {
                segments.add(Segment.literal((int) (p.from() - at)));
            }
            // Where the held start lies in the concatenated reference: the chosen chunks before its chunk, then
            // its place in that chunk (a piece's chunks are consecutive in the file and all chosen).
            int k = Manifest.chunkAt(ho, p.heldFrom());
            long offset = p.heldFrom() - ho[k];
            for (int r : refs) {
                if (r < k) {
                    offset += held.rawLength(r);
                }
            }
            // Classes pay off through the exponent; an integer tensor has none, and its differences in byte planes
            // came out smaller (an int8 pair: 393 KB against 422).
            int[] exponent = TensorLayout.exponentField(p.tensor().dtype());
            Transform applied = transform == Transform.CLASSES && exponent[1] == 0 ? Transform.DIFFERENCE : transform;
            Segment segment = new Segment(
                    applied,
                    (int) (p.to() - p.from()),
                    p.tensor().elementBytes(),
                    (int) offset,
                    applied == Transform.CLASSES ? exponent[0] : 0,
                    applied == Transform.CLASSES ? exponent[1] : 0);
            long rowLength = p.tensor().rowLength();
            if (applied == Transform.CLASSES && rowLength >= 1 && rowLength <= Integer.MAX_VALUE) {
                long element = (p.from() - p.tensor().start()) / p.tensor().elementBytes();
                segment = segment.on(new Grid((int) rowLength, (int) (element % rowLength)));
            }
            segments.add(segment);
            at = p.to();
        }
        if (chunkEnd > at) {
            segments.add(Segment.literal((int) (chunkEnd - at)));
        }
        if (segments.size() > SEGMENTS_MAX) {
            return Optional.empty();
        }
        return Optional.of(new Mapping(segments, refs));
    }

    /** The frame for {@code target} as {@code segments} against the first {@code referenceLength} reference bytes. */
    public static byte[] encode(
            byte[] target, List<Segment> segments, byte[] reference, int referenceLength, int level) {
        check(segments, target.length, referenceLength);
        List<Segment> written = new ArrayList<>(segments.size());
        int from = 0;
        boolean predicting = false;
        for (Segment s : segments) {
            Segment w = predicted(s, target, from, reference);
            predicting |= w != s;
            written.add(w);
            from += s.length();
        }
        if (!predicting) {
            return encodeAs(target, segments, reference, level);
        }
        // The estimate that chose the predictions is of order-0 statistics; zstd sees more. Both frames, the smaller.
        byte[] predicted = encodeAs(target, written, reference, level);
        byte[] plain = encodeAs(target, segments, reference, level);
        return predicted.length < plain.length ? predicted : plain;
    }

    /** {@link #encode} with {@code segments} written as they are. */
    private static byte[] encodeAs(byte[] target, List<Segment> segments, byte[] reference, int level) {
        // Two streams: what zstd codes well (literal bytes, byte planes, class bytes), and the raw bits of the
        // classes, which are as random as they look and would spoil zstd's literal statistics if mixed in.
        byte[] coded = new byte[target.length];
        byte[] bits = new byte[2 * target.length + 8];
        int p = 0;
        int q = 0;
        int at = 0;
        for (Segment s : segments) {
            switch (s.transform()) {
                case LITERAL -> {
                    System.arraycopy(target, at, coded, p, s.length());
                    p += s.length();
                }
                case CLASSES -> {
                    q = forwardClasses(s, target, at, reference, s.referenceOffset(), coded, p, bits, q);
                    p += s.length() / s.elementBytes();
                }
                case PREDICTED -> {
                    byte[] base = predictedElements(s, reference);
                    q = forwardClasses(s, target, at, base, 0, coded, p, bits, q);
                    p += s.length() / s.elementBytes();
                }
                default -> {
                    forward(s, target, at, reference, coded, p);
                    p += s.length();
                }
            }
            at += s.length();
        }
        byte[] packed;
        try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
            ctx.setLevel(level);
            ctx.setChecksum(false);
            packed = ctx.compress(Arrays.copyOf(coded, p));
        }
        int factors = 0;
        for (Segment s : segments) {
            if (s.prediction() != null) {
                factors += (s.prediction().rowFactors.length + s.prediction().columnFactors.length + 1) / 2 + 12;
            }
        }
        var w = new BinaryForm.Writer(24 + segments.size() * 12 + factors + packed.length + q)
                .magic(MAGIC)
                .u8(FORMAT_VERSION)
                .u32(target.length)
                .u32(p)
                .u16(segments.size());
        for (Segment s : segments) {
            w.u8(s.transform().ordinal()).u32(s.length());
            if (s.transform() != Transform.LITERAL) {
                w.u8(s.elementBytes()).u32(s.referenceOffset());
            }
            if (s.transform().classes()) {
                w.u8(s.exponentShift()).u8(s.exponentBits());
            }
            if (s.transform() == Transform.PREDICTED) {
                Prediction f = s.prediction();
                w.u32(s.grid().rowLength())
                        .u32(s.grid().column())
                        .u32(Float.floatToRawIntBits(f.scale()) & 0xffffffffL);
                // Row factors then column factors, two to a byte, the first in the low nibble; the last byte padded.
                int n = f.rowFactors.length + f.columnFactors.length;
                for (int k = 0; k < n; k += 2) {
                    int low = factor(f, k) & 0xf;
                    int high = k + 1 < n ? factor(f, k + 1) & 0xf : 0;
                    w.u8(low | high << 4);
                }
            }
        }
        w.u32(packed.length);
        byte[] head = w.toByteArray();
        byte[] frame = Arrays.copyOf(head, head.length + packed.length + q);
        System.arraycopy(packed, 0, frame, head.length, packed.length);
        System.arraycopy(bits, 0, frame, head.length + packed.length, q);
        return frame;
    }

    /**
     * The target chunk {@code frame} encodes against the first {@code referenceLength} bytes of {@code reference};
     * {@code chunk-corrupt} when the frame does not hold together, names bytes past the reference, or does not
     * decode to exactly {@code rawLength} bytes. The caller checks the result against the signed manifest.
     */
    public static byte[] decode(byte[] frame, byte[] reference, int referenceLength, int rawLength) {
        try (ZstdDecompressCtx zstd = new ZstdDecompressCtx()) {
            return decode(frame, reference, referenceLength, rawLength, zstd);
        }
    }

    /**
     * As {@link #decode(byte[], byte[], int, int)} with a zstd context the caller keeps for many frames: making one
     * took a fifth of the zstd time of a retrained model's update, where every chunk is a tensor delta.
     */
    public static byte[] decode(
            byte[] frame, byte[] reference, int referenceLength, int rawLength, ZstdDecompressCtx zstd) {
        return decode(frame, 0, frame.length, reference, referenceLength, rawLength, zstd);
    }

    /**
     * As {@link #decode(byte[], byte[], int, int, ZstdDecompressCtx)} with the frame at {@code frame[frameOffset,
     * frameOffset + frameLength)}: a device decodes the frames of a batch where they arrived, without a copy each.
     */
    public static byte[] decode(
            byte[] frame,
            int frameOffset,
            int frameLength,
            byte[] reference,
            int referenceLength,
            int rawLength,
            ZstdDecompressCtx zstd) {
        int frameEnd = frameOffset + frameLength;
        List<Segment> segments;
        int packedAt;
        int packedLength;
        int codedLength;
        try {
            var r = new BinaryForm.Reader(frame, frameOffset, frameEnd, "tensor delta").magic(MAGIC);
            int format = r.u8();
            if (format != FORMAT_VERSION) {
                throw r.invalid("format version " + format + " is not known");
            }
            long length = r.u32();
            if (length != rawLength) {
                throw r.invalid("it is for a chunk of " + length + " bytes, not " + rawLength);
            }
            long coded = r.u32();
            if (coded > rawLength) {
                throw r.invalid("its coded part of " + coded + " bytes is more than its chunk of " + rawLength);
            }
            codedLength = (int) coded;
            segments = readSegments(r);
            long packed = r.u32();
            if (packed > r.remaining()) {
                throw r.invalid("its coded part is cut short");
            }
            packedLength = (int) packed;
            packedAt = r.position();
            check(segments, rawLength, referenceLength);
        } catch (OutpostException | IllegalArgumentException e) {
            throw new OutpostException(
                    ErrorCode.CHUNK_CORRUPT, "a tensor delta does not hold together: " + e.getMessage());
        }
        byte[] coded = new byte[codedLength];
        try {
            int n = zstd.decompressByteArray(coded, 0, codedLength, frame, packedAt, packedLength);
            if (n != codedLength) {
                throw new OutpostException(
                        ErrorCode.CHUNK_CORRUPT, "a tensor delta decoded to " + n + " bytes, not " + codedLength);
            }
        } catch (ZstdException e) {
            throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta does not decode: " + e.getMessage());
        }
        byte[] out = new byte[rawLength];
        int p = 0;
        int q = packedAt + packedLength; // the raw bits follow the coded part to the end of the frame
        int at = 0;
        for (Segment s : segments) {
            int need = s.transform().classes() ? s.length() / s.elementBytes() : s.length();
            if (need > codedLength - p) {
                throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta's coded part ends early");
            }
            switch (s.transform()) {
                case LITERAL -> System.arraycopy(coded, p, out, at, s.length());
                case CLASSES -> q = inverseClasses(s, coded, p, frame, q, frameEnd, reference, out, at);
                case PREDICTED -> q = inversePredicted(s, coded, p, frame, q, frameEnd, reference, out, at);
                default -> inverse(s, coded, p, reference, out, at);
            }
            p += need;
            at += s.length();
        }
        if (p != codedLength || q != frameEnd) {
            throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta has bytes left over");
        }
        return out;
    }

    /**
     * A frame's segment table, from its count on. Its own method, as are the factors' ({@link #readFactors}):
     * {@link #decode} runs once a frame, too few times for C2 to compile it (and over a device's cap for it when it
     * tried), so a loop inside it runs interpreted; the factors' loop, thousands of factors a frame, is compiled on
     * its own (a sixth of the decoding thread's time in a retrained model's update, before).
     */
    private static List<Segment> readSegments(BinaryForm.Reader r) {
        int n = r.u16();
        List<Segment> segments = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int t = r.u8();
            if (t >= Transform.ALL.length) {
                throw r.invalid("segment transform " + t + " is not known");
            }
            Transform transform = Transform.ALL[t];
            int segmentLength = (int) Math.min(r.u32(), Integer.MAX_VALUE);
            if (transform == Transform.LITERAL) {
                segments.add(Segment.literal(segmentLength));
                continue;
            }
            int width = r.u8();
            int offset = (int) Math.min(r.u32(), Integer.MAX_VALUE);
            int shift = transform.classes() ? r.u8() : 0;
            int bits = transform.classes() ? r.u8() : 0;
            Segment segment = new Segment(transform, segmentLength, width, offset, shift, bits);
            if (transform == Transform.PREDICTED) {
                if (floatKind(width, shift, bits) < 0) {
                    throw r.invalid("a predicted segment's elements are not float32, float16 or bfloat16");
                }
                Grid grid = new Grid(
                        (int) Math.min(r.u32(), Integer.MAX_VALUE), (int) Math.min(r.u32(), Integer.MAX_VALUE));
                float scale = Float.intBitsToFloat((int) r.u32());
                int elements = segmentLength / width;
                segment = new Segment(
                        transform,
                        segmentLength,
                        width,
                        offset,
                        shift,
                        bits,
                        grid,
                        readFactors(r, scale, grid.rows(elements), grid.columns(elements)));
            }
            segments.add(segment);
        }
        return segments;
    }

    /** A predicted segment's factors: {@code rows} then {@code columns} of 4 bits, two to a byte, low half first. */
    private static Prediction readFactors(BinaryForm.Reader r, float scale, int rows, int columns) {
        long count = (long) rows + columns;
        if ((count + 1) / 2 > r.remaining()) {
            throw r.invalid("a predicted segment's factors are cut short");
        }
        byte[] rowFactors = new byte[rows];
        byte[] columnFactors = new byte[columns];
        int packed = 0;
        for (int k = 0; k < count; k++) {
            if ((k & 1) == 0) {
                packed = r.u8();
            }
            // Sign-extended from 4 bits.
            byte f = (byte) ((packed >>> (4 * (k & 1))) << 28 >> 28);
            if (k < rows) {
                rowFactors[k] = f;
            } else {
                columnFactors[k - rows] = f;
            }
        }
        return new Prediction(scale, rowFactors, columnFactors);
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
                                    || (long) s.referenceOffset() + s.length() > referenceLength))
                    || s.exponentBits() < 0
                    || s.exponentBits() > 11
                    || s.exponentShift() < 0
                    || s.exponentShift() + s.exponentBits() > 8 * w
                    || (s.transform() == Transform.PREDICTED && !predictionFits(s))) {
                throw new IllegalArgumentException("a segment is out of range: " + s);
            }
            total += s.length();
        }
        if (total != length) {
            throw new IllegalArgumentException("the segments cover " + total + " bytes, not " + length);
        }
    }

    /**
     * A {@link Transform#PREDICTED} segment of float32, float16 or bfloat16 elements with a factor for each row and
     * column it touches.
     */
    private static boolean predictionFits(Segment s) {
        int elements = s.length() / Math.max(1, s.elementBytes());
        return floatKind(s.elementBytes(), s.exponentShift(), s.exponentBits()) >= 0
                && s.grid() != null
                && s.prediction() != null
                && s.prediction().rowFactors.length == s.grid().rows(elements)
                && s.prediction().columnFactors.length == s.grid().columns(elements);
    }

    /**
     * Segment {@code s} as {@link Transform#PREDICTED} when it is a float32, float16 or bfloat16
     * {@link Transform#CLASSES} segment on a grid and its residuals against a rank-one estimate of its change come out
     * smaller than its differences from the held elements, each counted as the raw bits {@link Transform#CLASSES}
     * writes plus the class bytes' order-0 entropy (and 4 bits a factor); else {@code s} as it is. The estimate is
     * fitted by two rounds of alternating least squares from a constant column factor; the factors are scaled into
     * [-7, 7] and rounded, and the residuals are taken against the rounded ones, as a device computes them.
     */
    private static Segment predicted(Segment s, byte[] target, int at, byte[] reference) {
        Grid grid = s.grid();
        int w = s.elementBytes();
        int n = s.length() / w;
        int kind = floatKind(w, s.exponentShift(), s.exponentBits());
        if (s.transform() != Transform.CLASSES || kind < 0 || grid == null) {
            return s;
        }
        int rows = grid.rows(n);
        int first = grid.firstColumn(n);
        int columns = grid.columns(n);
        if ((long) rows + columns > n / 4) {
            return s; // the factors would cost about as much as any saving
        }
        int ref = s.referenceOffset();
        double[] d = new double[n];
        for (int e = 0; e < n; e++) {
            double change = (double) toFloat(kind, (int) element(target, at + w * e, w))
                    - toFloat(kind, (int) element(reference, ref + w * e, w));
            d[e] = Double.isFinite(change) ? change : 0;
        }
        double[] u = new double[rows];
        double[] v = new double[columns];
        Arrays.fill(v, 1);
        for (int round = 0; round < 2; round++) {
            fit(d, grid, first, v, u, true);
            fit(d, grid, first, u, v, false);
        }
        double su = 0;
        double sv = 0;
        for (double x : u) {
            su = Math.max(su, Math.abs(x));
        }
        for (double x : v) {
            sv = Math.max(sv, Math.abs(x));
        }
        int most = Prediction.FACTOR_MAX;
        float scale = (float) (su * sv / (most * most));
        if (!(scale > 0) || !Float.isFinite(scale)) {
            return s;
        }
        byte[] rowFactors = new byte[rows];
        byte[] columnFactors = new byte[columns];
        for (int i = 0; i < rows; i++) {
            rowFactors[i] = (byte) Math.round(u[i] / su * most);
        }
        for (int j = 0; j < columns; j++) {
            columnFactors[j] = (byte) Math.round(v[j] / sv * most);
        }
        Segment candidate = new Segment(
                Transform.PREDICTED,
                s.length(),
                w,
                ref,
                s.exponentShift(),
                s.exponentBits(),
                grid,
                new Prediction(scale, rowFactors, columnFactors));
        byte[] base = predictedElements(candidate, reference);
        // Raw bits plus the class bytes' order-0 entropy, each way: where most elements did not change (a
        // half-precision fine-tune), a prediction turns exact zeros into small residuals and costs more in classes
        // than it saves.
        long plainBits = 0;
        long residualBits = 4L * (rows + columns) + 96;
        int[] plainClasses = new int[256];
        int[] residualClasses = new int[256];
        for (int e = 0; e < n; e++) {
            long t = element(target, at + w * e, w);
            long held = element(reference, ref + w * e, w);
            long predictedElement = element(base, w * e, w);
            int lp = 64 - Long.numberOfLeadingZeros(zigzag(t - held, w));
            int lr = 64 - Long.numberOfLeadingZeros(zigzag(t - predictedElement, w));
            plainBits += Math.max(0, lp - 1);
            residualBits += Math.max(0, lr - 1);
            plainClasses[(lp + exponent(s, held)) & 0xff]++;
            residualClasses[(lr + exponent(s, predictedElement)) & 0xff]++;
        }
        return residualBits + entropyBits(residualClasses, n) < plainBits + entropyBits(plainClasses, n)
                ? candidate
                : s;
    }

    /** Factor {@code k} of {@code f}: its row factors, then its column factors. */
    private static byte factor(Prediction f, int k) {
        return k < f.rowFactors.length ? f.rowFactors[k] : f.columnFactors[k - f.rowFactors.length];
    }

    /** The order-0 entropy of {@code n} symbols of these {@code counts}, in bits. */
    private static long entropyBits(int[] counts, int n) {
        double bits = 0;
        for (int c : counts) {
            if (c > 0) {
                bits -= c * (Math.log((double) c / n) / Math.log(2));
            }
        }
        return (long) Math.ceil(bits);
    }

    /**
     * One half-round of the least-squares fit of {@code d} (the segment's changes on {@code grid}) to a product of a
     * row factor and a column factor: the row factors {@code out} for the column factors {@code given} when
     * {@code rowsOut}, else the column factors for the row factors.
     */
    private static void fit(double[] d, Grid grid, int first, double[] given, double[] out, boolean rowsOut) {
        double[] num = new double[out.length];
        double[] den = new double[out.length];
        int row = 0;
        int column = grid.column();
        for (double change : d) {
            int j = column - first;
            int k = rowsOut ? row : j;
            double g = rowsOut ? given[j] : given[row];
            num[k] += change * g;
            den[k] += g * g;
            if (++column == grid.rowLength()) {
                column = 0;
                row++;
            }
        }
        for (int k = 0; k < out.length; k++) {
            out[k] = den[k] > 0 ? num[k] / den[k] : 0;
        }
    }

    /** The predicted elements of {@link Transform#PREDICTED} segment {@code s}, little-endian, as {@link #predict}s. */
    private static byte[] predictedElements(Segment s, byte[] reference) {
        byte[] base = new byte[s.length()];
        predictInto(s, s.length() / s.elementBytes(), reference, base, 0);
        return base;
    }

    /**
     * Writes segment {@code s} of {@code target} (from {@code at}) into {@code payload} at {@code p}, transformed into
     * byte planes.
     */
    private static void forward(Segment s, byte[] target, int at, byte[] reference, byte[] payload, int p) {
        int w = s.elementBytes();
        int elements = s.length() / w;
        int ref = s.referenceOffset();
        for (int e = 0; e < elements; e++) {
            long v = s.transform() == Transform.XOR
                    ? element(target, at + e * w, w) ^ element(reference, ref + e * w, w)
                    : zigzag(element(target, at + e * w, w) - element(reference, ref + e * w, w), w);
            for (int b = 0; b < w; b++) {
                payload[p + b * elements + e] = (byte) (v >>> (8 * b));
            }
        }
    }

    /** The zigzag of {@code d} as a difference of {@code w}-byte integers (wrapping): small magnitudes, small values. */
    private static long zigzag(long d, int w) {
        int bits = 8 * w;
        d = d << (64 - bits) >> (64 - bits);
        long z = d << 1 ^ d >> 63;
        return bits == 64 ? z : z & ((1L << bits) - 1);
    }

    /** The held element's exponent field for segment {@code s}. */
    private static int exponent(Segment s, long held) {
        return (int) (held >>> s.exponentShift()) & ((1 << s.exponentBits()) - 1);
    }

    /**
     * Writes a {@link Transform#CLASSES} segment against the elements of {@code reference} from {@code ref} (the held
     * ones, or a {@link Transform#PREDICTED} segment's predicted ones): a class byte an element into {@code coded} at
     * {@code p}, the bits below each leading one into {@code bits} at {@code q} (lowest first, the last byte
     * padded); returns where the bits go on.
     */
    private static int forwardClasses(
            Segment s, byte[] target, int at, byte[] reference, int ref, byte[] coded, int p, byte[] bits, int q) {
        int w = s.elementBytes();
        int n = s.length() / w;
        long buffer = 0; // bits not yet written, lowest first
        int held = 0; // how many
        for (int e = 0; e < n; e++) {
            long old = element(reference, ref + e * w, w);
            long z = zigzag(element(target, at + e * w, w) - old, w);
            int length = 64 - Long.numberOfLeadingZeros(z);
            coded[p + e] = (byte) (length + exponent(s, old));
            int extra = Math.max(0, length - 1);
            for (int done = 0; done < extra; ) {
                int take = Math.min(extra - done, 32);
                buffer |= ((z >>> done) & ((1L << take) - 1)) << held;
                held += take;
                done += take;
                while (held >= 8) {
                    bits[q++] = (byte) buffer;
                    buffer >>>= 8;
                    held -= 8;
                }
            }
        }
        if (held > 0) {
            bits[q++] = (byte) buffer;
        }
        return q;
    }

    /**
     * Reads a {@link Transform#CLASSES} segment, its classes from {@code coded} at {@code p} and its bits from
     * {@code frame} at {@code q}, into {@code out} at {@code at}; returns where the bits go on. {@code chunk-corrupt}
     * for a class no element of the width can have, or bits past the frame's end.
     */
    private static int inverseClasses(
            Segment s, byte[] coded, int p, byte[] frame, int q, int frameEnd, byte[] reference, byte[] out, int at) {
        int w = s.elementBytes();
        int n = s.length() / w;
        int ref = s.referenceOffset();
        // float32 and the 16-bit floats have loops of their own (whole-word reads, no per-byte element loop): the
        // decode of a retrained model's update is nearly all in them.
        if (w == 4 || w == 2) {
            return inverseClassesWord(
                    w, coded, p, n, s.exponentShift(), s.exponentBits(), frame, q, frameEnd, reference, ref, out, at);
        }
        int width = 8 * w;
        long buffer = 0;
        int held = 0;
        for (int e = 0; e < n; e++) {
            long old = element(reference, ref + e * w, w);
            int length = (coded[p + e] - exponent(s, old)) & 0xff;
            if (length > width) {
                throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta's class is out of range");
            }
            long z = length == 0 ? 0 : 1L << (length - 1);
            int extra = Math.max(0, length - 1);
            for (int done = 0; done < extra; ) {
                int take = Math.min(extra - done, 32);
                while (held < take) {
                    if (q >= frameEnd) {
                        throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta's bits end early");
                    }
                    buffer |= (frame[q++] & 0xffL) << held;
                    held += 8;
                }
                z |= (buffer & ((1L << take) - 1)) << done;
                buffer >>>= take;
                held -= take;
                done += take;
            }
            long value = old + (z >>> 1 ^ -(z & 1));
            int o = at + e * w;
            for (int b = 0; b < w; b++) {
                out[o + b] = (byte) (value >>> (8 * b));
            }
        }
        return q;
    }

    /**
     * {@link #inverseClasses} of {@code n} elements of {@code w} = 2 or 4 bytes, the bits read eight bytes at a time
     * at any bit position: no loop or branch depends on the data, so the processor does not mispredict on every element
     * (the byte-at-a-time refill it replaces decoded the deltas of an 85 MB float32 update at 16-18 ns an element, zstd
     * included, this at 8-9, in-process with the JIT unrestricted). The branches on {@code w} are the same for every
     * element: the JIT keeps them out of the loop. Only the bit word goes through a {@link ByteBuffer}: with the held
     * and written elements through buffers as well, C2 needed more than the 4 MB of arena a device gives this class
     * (model.compile-commands) for a bfloat16 profile, gave up, and the loop ran interpreted (an 85 MB bfloat16 update
     * took 6.9 s instead of 0.8); with the elements as bytes float32 decodes as fast (15-17 ns an element either way
     * under the device's compiler settings).
     */
    private static int inverseClassesWord(
            int w,
            byte[] coded,
            int p,
            int n,
            int shift,
            int bits,
            byte[] frame,
            int q,
            int frameEnd,
            byte[] reference,
            int ref,
            byte[] out,
            int at) {
        int mask = (1 << bits) - 1;
        int width = 8 * w;
        ByteBuffer bitsIn = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        long bit = 8L * q; // where the next element's bits start, in bits from the frame's start
        int fast = frameEnd - Long.BYTES; // whole words can be read up to here
        for (int e = 0; e < n; e++) {
            int r = ref + w * e;
            int old = (reference[r] & 0xff) | (reference[r + 1] & 0xff) << 8;
            if (w == 4) {
                old |= (reference[r + 2] & 0xff) << 16 | reference[r + 3] << 24;
            }
            int length = (coded[p + e] - ((old >>> shift) & mask)) & 0xff;
            if (length > width) {
                throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta's class is out of range");
            }
            int byteAt = (int) (bit >>> 3);
            long word = byteAt <= fast ? bitsIn.getLong(byteAt) : tail(frame, byteAt, frameEnd);
            word >>>= bit & 7;
            // The leading one and the bits below it; nothing for class 0 (lead is then 0, and so is the mask).
            long lead = (1L << length) >>> 1;
            int z = (int) (lead | word & (lead - 1) & -(long) ((length + 63) >>> 6));
            bit += Math.max(length - 1, 0);
            int value = old + (z >>> 1 ^ -(z & 1));
            int o = at + w * e;
            out[o] = (byte) value;
            out[o + 1] = (byte) (value >>> 8);
            if (w == 4) {
                out[o + 2] = (byte) (value >>> 16);
                out[o + 3] = (byte) (value >>> 24);
            }
        }
        long end = (bit + 7) >>> 3;
        if (end > frameEnd) {
            throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "a tensor delta's bits end early");
        }
        return (int) end;
    }

    /**
     * Reads a {@link Transform#PREDICTED} segment: its {@link #predict}ed elements are written where the segment goes
     * in {@code out}, then {@link #inverseClassesWord} decodes against them there, each element read before it is
     * overwritten. Two loops, not one: the loop doing both needed more than the 4 MB of C2 arena a device gives this
     * class and ran in C1's code at half the speed.
     */
    private static int inversePredicted(
            Segment s, byte[] coded, int p, byte[] frame, int q, int frameEnd, byte[] reference, byte[] out, int at) {
        int w = s.elementBytes();
        int n = s.length() / w;
        predictInto(s, n, reference, out, at);
        return inverseClassesWord(
                w, coded, p, n, s.exponentShift(), s.exponentBits(), frame, q, frameEnd, out, at, out, at);
    }

    /**
     * The predicted elements of {@link Transform#PREDICTED} segment {@code s} into {@code out} from {@code at}: float32
     * or a 16-bit type, in one loop whose branches on the width are the same for every element (as
     * {@link #inverseClassesWord}'s), small enough for C2 within a device's cap.
     */
    private static void predictInto(Segment s, int n, byte[] reference, byte[] out, int at) {
        int w = s.elementBytes();
        int kind = floatKind(w, s.exponentShift(), s.exponentBits());
        float[] a = s.prediction().rows();
        float[] v = s.prediction().columns();
        int rowLength = s.grid().rowLength();
        int ref = s.referenceOffset();
        int column = s.grid().column() - s.grid().firstColumn(n); // an index into v
        int end = column + (rowLength - s.grid().column()); // where the first row ends, as an index into v
        int row = 0;
        for (int e = 0; e < n; ) {
            float factor = a[row];
            int stop = Math.min(n, e + (end - column));
            for (; e < stop; e++, column++) {
                int r = ref + w * e;
                int old = (reference[r] & 0xff) | (reference[r + 1] & 0xff) << 8;
                if (w == 4) {
                    old |= (reference[r + 2] & 0xff) << 16 | reference[r + 3] << 24;
                }
                int base = predict(kind, old, factor * v[column]);
                int o = at + w * e;
                out[o] = (byte) base;
                out[o + 1] = (byte) (base >>> 8);
                if (w == 4) {
                    out[o + 2] = (byte) (base >>> 16);
                    out[o + 3] = (byte) (base >>> 24);
                }
            }
            column = 0;
            end = rowLength;
            row++;
        }
    }

    /** The little-endian word at {@code byteAt} of {@code frame}, the bytes from {@code end} on as zeros. */
    private static long tail(byte[] frame, int byteAt, int end) {
        long word = 0;
        for (int i = Math.min(end, byteAt + Long.BYTES) - 1; i >= byteAt; i--) {
            word = word << 8 | (frame[i] & 0xff);
        }
        return word;
    }

    /**
     * The inverse of {@link #forward}: segment {@code s} of the target, from {@code payload} at {@code p}, into
     * {@code out} at {@code at}. The common widths of a difference have loops of their own, each a small method: a
     * device compiles each within its per-method compiler memory cap (model.compile-commands).
     */
    private static void inverse(Segment s, byte[] payload, int p, byte[] reference, byte[] out, int at) {
        int w = s.elementBytes();
        int n = s.length() / w;
        int ref = s.referenceOffset();
        if (s.transform() == Transform.XOR) {
            inverseXor(payload, p, n, w, reference, ref, out, at);
        } else if (w == 4) {
            inverseDifference4(payload, p, n, reference, ref, out, at);
        } else if (w == 2) {
            inverseDifference2(payload, p, n, reference, ref, out, at);
        } else if (w == 1) {
            inverseDifference1(payload, p, n, reference, ref, out, at);
        } else {
            inverseDifference(payload, p, n, w, reference, ref, out, at);
        }
    }

    private static void inverseDifference4(
            byte[] payload, int p, int n, byte[] reference, int ref, byte[] out, int at) {
        for (int e = 0; e < n; e++) {
            int v = (payload[p + e] & 0xff)
                    | (payload[p + n + e] & 0xff) << 8
                    | (payload[p + 2 * n + e] & 0xff) << 16
                    | payload[p + 3 * n + e] << 24;
            int o = ref + 4 * e;
            int value = ((reference[o] & 0xff)
                            | (reference[o + 1] & 0xff) << 8
                            | (reference[o + 2] & 0xff) << 16
                            | reference[o + 3] << 24)
                    + (v >>> 1 ^ -(v & 1));
            int t = at + 4 * e;
            out[t] = (byte) value;
            out[t + 1] = (byte) (value >>> 8);
            out[t + 2] = (byte) (value >>> 16);
            out[t + 3] = (byte) (value >>> 24);
        }
    }

    private static void inverseDifference2(
            byte[] payload, int p, int n, byte[] reference, int ref, byte[] out, int at) {
        for (int e = 0; e < n; e++) {
            int v = (payload[p + e] & 0xff) | (payload[p + n + e] & 0xff) << 8;
            int o = ref + 2 * e;
            int value = ((reference[o] & 0xff) | (reference[o + 1] & 0xff) << 8) + (v >>> 1 ^ -(v & 1));
            int t = at + 2 * e;
            out[t] = (byte) value;
            out[t + 1] = (byte) (value >>> 8);
        }
    }

    private static void inverseDifference1(
            byte[] payload, int p, int n, byte[] reference, int ref, byte[] out, int at) {
        for (int e = 0; e < n; e++) {
            int v = payload[p + e] & 0xff;
            out[at + e] = (byte) (reference[ref + e] + (v >>> 1 ^ -(v & 1)));
        }
    }

    private static void inverseXor(byte[] payload, int p, int n, int w, byte[] reference, int ref, byte[] out, int at) {
        for (int b = 0; b < w; b++) {
            int plane = p + b * n;
            for (int e = 0; e < n; e++) {
                out[at + e * w + b] = (byte) (payload[plane + e] ^ reference[ref + e * w + b]);
            }
        }
    }

    private static void inverseDifference(
            byte[] payload, int p, int n, int w, byte[] reference, int ref, byte[] out, int at) {
        for (int e = 0; e < n; e++) {
            long v = 0;
            for (int b = 0; b < w; b++) {
                v |= (payload[p + b * n + e] & 0xffL) << (8 * b);
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
