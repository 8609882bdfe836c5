package dev.outpost.model.artifact;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The initializers of an ONNX model (a protobuf {@code ModelProto}): where each one's {@code raw_data} lies in the
 * file, with its name, element type and dimensions. Only the protobuf wire format is read (no generated classes, no
 * library): the model's fields are walked to the end of the file, the graph's ({@code ModelProto.graph}, field 7)
 * initializers ({@code GraphProto.initializer}, field 5) are read, and everything else is stepped over by its length.
 * The file is read through a small window at a time, never whole: a model is hundreds of MB.
 *
 * <p>An initializer is in the layout when its data are {@code raw_data} (field 9: little-endian elements, what
 * exporters write for any tensor past a few elements) of a known element type whose size its dimensions fill, and it is
 * stored in the file itself ({@code data_location}, field 14, default). Initializers in {@code float_data} and the other
 * typed lists (varints or packed values: small constants), with external data, or in subgraphs of control-flow
 * nodes are not, and are delta'd as plain bytes.
 */
final class OnnxLayout {
    /** TensorProto.DataType values whose raw data are plain elements, as safetensors dtype names. */
    private static final Map<Integer, String> ELEMENTS = Map.ofEntries(
            Map.entry(1, "F32"),
            Map.entry(2, "U8"),
            Map.entry(3, "I8"),
            Map.entry(4, "U16"),
            Map.entry(5, "I16"),
            Map.entry(6, "I32"),
            Map.entry(7, "I64"),
            Map.entry(9, "BOOL"),
            Map.entry(10, "F16"),
            Map.entry(11, "F64"),
            Map.entry(12, "U32"),
            Map.entry(13, "U64"),
            Map.entry(16, "BF16"),
            Map.entry(17, "F8_E4M3"),
            Map.entry(19, "F8_E5M2"));

    private static final int VARINT = 0;
    private static final int FIXED64 = 1;
    private static final int LENGTH = 2;
    private static final int FIXED32 = 5;
    /** Names longer than this are not an initializer's (ONNX names are identifiers). */
    private static final int NAME_BYTES_MAX = 64 * 1024;

    private static final int DIMS_MAX = 8;

    private OnnxLayout() {}

    /**
     * Whether a file may be ONNX from its first byte: protobuf serializers write fields in field-number order, and
     * {@code ModelProto.ir_version} (field 1, a varint: tag {@code 0x08}) is the first and always set.
     */
    static boolean mayBe(byte first) {
        return first == 0x08;
    }

    /**
     * The initializer tensors of the ONNX model {@code source}; {@code null} when it is not a well-formed
     * {@code ModelProto}: a field whose length runs past its message, a group or an unknown wire type, a varint past 10
     * bytes, no graph, two initializers of one name.
     */
    static List<TensorLayout.Tensor> tensors(ByteSource source) throws IOException {
        Reader r = new Reader(source);
        long size = source.size();
        List<TensorLayout.Tensor> tensors = new ArrayList<>();
        Set<String> names = new HashSet<>();
        boolean graph = false;
        while (r.position() < size) {
            long tag = r.varint(size);
            if (tag == (7 << 3 | LENGTH)) {
                long end = r.lengthEnd(size);
                graph(r, end, tensors, names);
                graph = true;
            } else {
                r.skip(tag, size);
            }
        }
        return graph && r.position() == size ? tensors : null;
    }

    /** {@code GraphProto} fields up to {@code end}: each initializer's tensor, the rest stepped over. */
    private static void graph(Reader r, long end, List<TensorLayout.Tensor> tensors, Set<String> names)
            throws IOException {
        while (r.position() < end) {
            long tag = r.varint(end);
            if (tag == (5 << 3 | LENGTH)) {
                long tensorEnd = r.lengthEnd(end);
                TensorLayout.Tensor t = tensor(r, tensorEnd, names);
                if (t != null) {
                    tensors.add(t);
                }
            } else {
                r.skip(tag, end);
            }
        }
        r.expect(end);
    }

    /** A {@code TensorProto} up to {@code end}: its tensor if its data are raw elements in this file, else null. */
    private static TensorLayout.Tensor tensor(Reader r, long end, Set<String> names) throws IOException {
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = null;
        long rawStart = -1;
        long rawEnd = -1;
        boolean external = false;
        while (r.position() < end) {
            long tag = r.varint(end);
            int field = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            if (field == 1 && wire == VARINT) {
                dims.add(r.varint(end));
            } else if (field == 1 && wire == LENGTH) { // packed dimensions
                long dimsEnd = r.lengthEnd(end);
                while (r.position() < dimsEnd) {
                    dims.add(r.varint(dimsEnd));
                }
                r.expect(dimsEnd);
            } else if (field == 2 && wire == VARINT) {
                dataType = (int) r.varint(end);
            } else if (field == 8 && wire == LENGTH) {
                long nameEnd = r.lengthEnd(end);
                if (nameEnd - r.position() > NAME_BYTES_MAX) {
                    throw new IllegalArgumentException("an initializer's name past " + NAME_BYTES_MAX + " bytes");
                }
                name = r.string((int) (nameEnd - r.position()));
            } else if (field == 9 && wire == LENGTH) {
                rawEnd = r.lengthEnd(end);
                rawStart = r.position();
                r.seek(rawEnd);
            } else if (field == 14 && wire == VARINT) {
                external = r.varint(end) != 0;
            } else {
                r.skip(tag, end);
            }
        }
        r.expect(end);
        if (name != null && !names.add(name)) {
            throw new IllegalArgumentException("two initializers named " + name);
        }
        String dtype = ELEMENTS.get(dataType);
        if (name == null || name.isEmpty() || dtype == null || rawStart < 0 || external || dims.size() > DIMS_MAX) {
            return null;
        }
        long[] shape = new long[dims.size()];
        long elements = 1;
        for (int d = 0; d < shape.length; d++) {
            shape[d] = dims.get(d);
            if (shape[d] < 0 || Math.multiplyHigh(elements, shape[d]) != 0 || elements * shape[d] < 0) {
                return null;
            }
            elements *= shape[d];
        }
        int w = TensorLayout.elementBytes(dtype);
        if (Math.multiplyHigh(elements, w) != 0 || elements * w != rawEnd - rawStart) {
            return null; // data that do not fill the dimensions: plain bytes
        }
        return new TensorLayout.Tensor(name, dtype, shape, rawStart, rawEnd);
    }

    /** Protobuf wire format over a {@link ByteSource}, through a 16 KiB window. */
    private static final class Reader {
        private final ByteSource source;
        private final long size;
        private final byte[] window = new byte[16 * 1024];
        private long windowStart;
        private int windowLength;
        private long at;

        Reader(ByteSource source) throws IOException {
            this.source = source;
            this.size = source.size();
        }

        long position() {
            return at;
        }

        void seek(long position) {
            at = position;
        }

        private int u8(long limit) throws IOException {
            if (at >= limit) {
                throw new IllegalArgumentException("a field runs past its message");
            }
            if (at < windowStart || at >= windowStart + windowLength) {
                windowStart = at;
                windowLength = (int) Math.min(window.length, size - at);
                source.readFully(at, window, 0, windowLength);
            }
            return window[(int) (at++ - windowStart)] & 0xff;
        }

        long varint(long limit) throws IOException {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                int b = u8(limit);
                v |= (long) (b & 0x7f) << shift;
                if (b < 0x80) {
                    return v;
                }
            }
            throw new IllegalArgumentException("a varint past 10 bytes");
        }

        /** Reads a length and returns where the bytes it counts end, which must be within {@code limit}. */
        long lengthEnd(long limit) throws IOException {
            long length = varint(limit);
            if (length < 0 || length > limit - at) {
                throw new IllegalArgumentException("a length runs past its message");
            }
            return at + length;
        }

        String string(int length) throws IOException {
            byte[] b = new byte[length];
            source.readFully(at, b, 0, length);
            at += length;
            return new String(b, StandardCharsets.UTF_8);
        }

        /** Steps over the value of a field with {@code tag}. */
        void skip(long tag, long limit) throws IOException {
            if ((tag >>> 3) == 0) {
                throw new IllegalArgumentException("field number 0");
            }
            switch ((int) (tag & 7)) {
                case VARINT -> varint(limit);
                case FIXED64 -> step(8, limit);
                case LENGTH -> at = lengthEnd(limit);
                case FIXED32 -> step(4, limit);
                default -> throw new IllegalArgumentException("wire type " + (tag & 7) + " (groups are not ONNX)");
            }
        }

        private void step(int n, long limit) {
            if (n > limit - at) {
                throw new IllegalArgumentException("a field runs past its message");
            }
            at += n;
        }

        void expect(long end) {
            if (at != end) {
                throw new IllegalArgumentException("a message does not end where its length says");
            }
        }
    }
}
