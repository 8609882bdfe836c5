package dev.outpost.model.artifact;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where the tensors of a model file lie, read from its header: what lets the service pair each tensor of a new
 * version with the same tensor of the held one ({@link TensorDelta}). Three formats: safetensors (an 8-byte
 * little-endian header length, a JSON object naming each tensor's {@code dtype}, {@code shape} and
 * {@code data_offsets} relative to the end of the header, then the data) and GGUF, versions 2 and 3 (llama.cpp's: a
 * binary header of metadata and tensor infos, then the data at an alignment), whose float32, float16 and bfloat16
 * tensors are in the layout and whose block-quantized ones (Q4_0, Q8_0, the K quants...) are not: their bytes are
 * blocks of scales and packed integers, not elements; and ONNX, whose graph's initializers stored as raw data are
 * ({@link OnnxLayout}). A file that is none of them, or whose header does not hold together, has no layout
 * ({@link #read} is empty) and is delta'd as plain bytes.
 */
public final class TensorLayout {
    /** The longest header read (safetensors itself refuses more than 100 MB; a 70B model's is under 2 MB). */
    public static final int HEADER_BYTES_MAX = 16 * 1024 * 1024;

    /**
     * A tensor's bytes at {@code [start, end)} of the file. Its {@code shape} is outermost first, the last dimension
     * the one whose elements lie next to each other, in both formats (safetensors writes it so; GGUF's dimensions are
     * innermost first and are reversed when read).
     */
    public record Tensor(String name, String dtype, long[] shape, long start, long end) {
        public Tensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Elements in one row: the length of the innermost dimension (1 for a scalar). */
        public long rowLength() {
            return shape.length == 0 ? 1 : shape[shape.length - 1];
        }

        /** Bytes of one element: 1, 2, 4 or 8. */
        public int elementBytes() {
            return TensorLayout.elementBytes(dtype);
        }

        /** Same name, element type and shape: the one tensor in two versions of a model. */
        public boolean sameAs(Tensor o) {
            return name.equals(o.name) && dtype.equals(o.dtype) && Arrays.equals(shape, o.shape);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && sameAs(t) && start == t.start && end == t.end;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Long.hashCode(start);
        }
    }

    private static final Map<String, Integer> ELEMENT_BYTES = Map.ofEntries(
            Map.entry("F64", 8),
            Map.entry("I64", 8),
            Map.entry("U64", 8),
            Map.entry("F32", 4),
            Map.entry("I32", 4),
            Map.entry("U32", 4),
            Map.entry("F16", 2),
            Map.entry("BF16", 2),
            Map.entry("I16", 2),
            Map.entry("U16", 2),
            Map.entry("I8", 1),
            Map.entry("U8", 1),
            Map.entry("BOOL", 1),
            Map.entry("F8_E4M3", 1),
            Map.entry("F8_E5M2", 1));

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength(HEADER_BYTES_MAX)
                    .maxNestingDepth(8)
                    .build())
            .build();

    private final List<Tensor> tensors;
    private final Map<String, Tensor> byName;

    private TensorLayout(List<Tensor> tensors) {
        this.tensors = List.copyOf(tensors);
        this.byName = new HashMap<>();
        for (Tensor t : tensors) {
            byName.put(t.name(), t);
        }
    }

    /** Where a dtype's exponent field is: {@code {shift, bits}}, bits 0 for integer types. */
    static int[] exponentField(String dtype) {
        return switch (dtype) {
            case "F64" -> new int[] {52, 11};
            case "F32" -> new int[] {23, 8};
            case "F16" -> new int[] {10, 5};
            case "BF16" -> new int[] {7, 8};
            case "F8_E4M3" -> new int[] {3, 4};
            case "F8_E5M2" -> new int[] {2, 5};
            default -> new int[] {0, 0};
        };
    }

    /** The element size of a safetensors dtype name; 0 for one not known. */
    public static int elementBytes(String dtype) {
        return ELEMENT_BYTES.getOrDefault(dtype, 0);
    }

    /** The tensors in file order. */
    public List<Tensor> tensors() {
        return tensors;
    }

    public Optional<Tensor> get(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * The layout of the file {@code source} reads, or empty when it is not a well-formed safetensors, GGUF or ONNX
     * file: for safetensors, a header length past {@link #HEADER_BYTES_MAX} or the file, JSON that is not an object of
     * tensors, a dtype not known, a shape whose elements do not fill the offsets, tensors that overlap or lie past the
     * end (GGUF: {@link #readGguf}; ONNX: {@link OnnxLayout#tensors}).
     */
    public static Optional<TensorLayout> read(ByteSource source) throws IOException {
        long size = source.size();
        if (size < 8) {
            return Optional.empty();
        }
        byte[] prefix = new byte[8];
        source.readFully(0, prefix, 0, 8);
        if (prefix[0] == 'G' && prefix[1] == 'G' && prefix[2] == 'U' && prefix[3] == 'F') {
            byte[] head = new byte[(int) Math.min(size, HEADER_BYTES_MAX)];
            source.readFully(0, head, 0, head.length);
            try {
                return readGguf(ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN), size);
            } catch (RuntimeException notGguf) { // a length or count past the header read
                return Optional.empty();
            }
        }
        Optional<TensorLayout> safetensors = readSafetensors(source, prefix, size);
        if (safetensors.isPresent() || !OnnxLayout.mayBe(prefix[0])) {
            return safetensors;
        }
        try {
            List<Tensor> tensors = OnnxLayout.tensors(source);
            return tensors == null ? Optional.empty() : disjoint(tensors);
        } catch (RuntimeException notOnnx) { // a length past its message, a group, a varint too long...
            return Optional.empty();
        }
    }

    private static Optional<TensorLayout> readSafetensors(ByteSource source, byte[] prefix, long size)
            throws IOException {
        long headerBytes = 0;
        for (int i = 7; i >= 0; i--) {
            headerBytes = headerBytes << 8 | (prefix[i] & 0xff);
        }
        if (headerBytes < 2 || headerBytes > HEADER_BYTES_MAX || headerBytes > size - 8) {
            return Optional.empty();
        }
        byte[] header = new byte[(int) headerBytes];
        source.readFully(8, header, 0, header.length);
        if (header[0] != '{') {
            return Optional.empty();
        }
        try {
            return parse(header, 8 + headerBytes, size);
        } catch (IOException | RuntimeException notSafetensors) {
            return Optional.empty();
        }
    }

    /** GGUF tensor types whose data are plain little-endian elements, by type id, as the safetensors dtype names. */
    private static final Map<Integer, String> GGUF_ELEMENTS = Map.of(0, "F32", 1, "F16", 30, "BF16");

    /** GGUF metadata value types of a fixed size, by type id: the size in bytes. */
    private static final Map<Integer, Integer> GGUF_FIXED = Map.ofEntries(
            Map.entry(0, 1),
            Map.entry(1, 1),
            Map.entry(2, 2),
            Map.entry(3, 2),
            Map.entry(4, 4),
            Map.entry(5, 4),
            Map.entry(6, 4),
            Map.entry(7, 1),
            Map.entry(10, 8),
            Map.entry(11, 8),
            Map.entry(12, 8));

    private static final int GGUF_STRING = 8;
    private static final int GGUF_ARRAY = 9;
    private static final int GGUF_UINT32 = 4;

    /**
     * A GGUF file's layout from its first bytes {@code b} (positioned at its start): the magic and version, the tensor
     * and metadata counts, the metadata (only {@code general.alignment} is used: where the data starts and the
     * alignment of every tensor's offset, 32 by default), then each tensor's name, dimensions, type and offset from the
     * start of the data. Empty for another version, an alignment that is not a power of two, dimensions past 8, a
     * duplicate name, or a tensor that is misaligned, lies past the end or overlaps another.
     */
    private static Optional<TensorLayout> readGguf(ByteBuffer b, long size) {
        b.getInt(); // the magic
        int version = b.getInt();
        long tensorCount = b.getLong();
        long metadataCount = b.getLong();
        if ((version != 2 && version != 3)
                || tensorCount < 0
                || tensorCount > b.remaining() / 24
                || metadataCount < 0
                || metadataCount > b.remaining() / 12) {
            return Optional.empty();
        }
        long alignment = 32;
        for (long i = 0; i < metadataCount; i++) {
            String key = ggufString(b);
            int type = b.getInt();
            if (key.equals("general.alignment") && type == GGUF_UINT32) {
                alignment = Integer.toUnsignedLong(b.getInt());
            } else {
                skipGgufValue(b, type, 0);
            }
        }
        if (alignment == 0 || Long.bitCount(alignment) != 1 || alignment > 1 << 20) {
            return Optional.empty();
        }
        record Info(String name, String dtype, long[] shape, long offset, long elements) {}
        List<Info> infos = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = ggufString(b);
            int dims = b.getInt();
            if (dims < 1 || dims > 8) {
                return Optional.empty();
            }
            long[] shape = new long[dims];
            long elements = 1;
            for (int d = dims - 1; d >= 0; d--) { // innermost first in the file; outermost first in a Tensor
                shape[d] = b.getLong();
                elements = shape[d] < 0 || Math.multiplyHigh(elements, shape[d]) != 0 ? -1 : elements * shape[d];
                if (elements < 0) {
                    return Optional.empty();
                }
            }
            int type = b.getInt();
            long offset = b.getLong();
            if (offset < 0 || offset % alignment != 0) {
                return Optional.empty();
            }
            infos.add(new Info(name, GGUF_ELEMENTS.get(type), shape, offset, elements));
        }
        long dataStart = (b.position() + alignment - 1) & -alignment;
        List<Tensor> tensors = new ArrayList<>();
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Info t : infos) {
            if (!names.add(t.name())) {
                return Optional.empty();
            }
            if (t.dtype() == null) {
                continue; // quantized blocks: delta'd as plain bytes
            }
            long bytes = t.elements() * elementBytes(t.dtype());
            long start = dataStart + t.offset();
            if (bytes / elementBytes(t.dtype()) != t.elements() || start > size || bytes > size - start) {
                return Optional.empty();
            }
            tensors.add(new Tensor(t.name(), t.dtype(), t.shape(), start, start + bytes));
        }
        return disjoint(tensors);
    }

    /** A GGUF string: its length (8 bytes) and its UTF-8 bytes. */
    private static String ggufString(ByteBuffer b) {
        long length = b.getLong();
        if (length < 0 || length > b.remaining()) {
            throw new IllegalArgumentException("a string past the header");
        }
        byte[] text = new byte[(int) length];
        b.get(text);
        return new String(text, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Moves past a GGUF metadata value of {@code type} (an array's elements too, arrays two deep at most). */
    private static void skipGgufValue(ByteBuffer b, int type, int depth) {
        Integer fixed = GGUF_FIXED.get(type);
        if (fixed != null) {
            b.position(b.position() + fixed);
        } else if (type == GGUF_STRING) {
            ggufString(b);
        } else if (type == GGUF_ARRAY && depth < 2) {
            int elementType = b.getInt();
            long count = b.getLong();
            if (count < 0 || count > b.remaining()) {
                throw new IllegalArgumentException("an array past the header");
            }
            Integer elementBytes = GGUF_FIXED.get(elementType);
            if (elementBytes != null) {
                if (count * elementBytes > b.remaining()) {
                    throw new IllegalArgumentException("an array past the header");
                }
                b.position(b.position() + (int) (count * elementBytes));
            } else {
                for (long i = 0; i < count; i++) {
                    skipGgufValue(b, elementType, depth + 1);
                }
            }
        } else {
            throw new IllegalArgumentException("metadata value type " + type + " is not known");
        }
    }

    private static Optional<TensorLayout> parse(byte[] header, long dataStart, long size) throws IOException {
        List<Tensor> tensors = new ArrayList<>();
        try (JsonParser p = JSON.createParser(header)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Optional.empty();
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                if (p.nextToken() != JsonToken.START_OBJECT) {
                    return Optional.empty();
                }
                if (name.equals("__metadata__")) {
                    p.skipChildren();
                    continue;
                }
                String dtype = null;
                long[] shape = null;
                long[] offsets = null;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String field = p.currentName();
                    JsonToken value = p.nextToken();
                    switch (field) {
                        case "dtype" -> dtype = value == JsonToken.VALUE_STRING ? p.getText() : null;
                        case "shape" -> shape = longs(p, value);
                        case "data_offsets" -> offsets = longs(p, value);
                        default -> p.skipChildren();
                    }
                }
                int width = dtype == null ? 0 : elementBytes(dtype);
                if (width == 0 || shape == null || offsets == null || offsets.length != 2) {
                    return Optional.empty();
                }
                long elements = 1;
                for (long d : shape) {
                    elements = d < 0 ? -1 : Math.multiplyHigh(elements, d) != 0 ? -1 : elements * d;
                    if (elements < 0) {
                        return Optional.empty();
                    }
                }
                long start = dataStart + offsets[0];
                long end = dataStart + offsets[1];
                if (offsets[0] < 0
                        || offsets[1] < offsets[0]
                        || end > size
                        || offsets[1] - offsets[0] != elements * width) {
                    return Optional.empty();
                }
                tensors.add(new Tensor(name, dtype, shape, start, end));
            }
            if (p.currentToken() != JsonToken.END_OBJECT) {
                return Optional.empty();
            }
        }
        return disjoint(tensors);
    }

    /** The layout of {@code tensors}, in file order; empty if two of them overlap. */
    private static Optional<TensorLayout> disjoint(List<Tensor> tensors) {
        tensors.sort(Comparator.comparingLong(Tensor::start));
        for (int i = 1; i < tensors.size(); i++) {
            if (tensors.get(i).start() < tensors.get(i - 1).end()) {
                return Optional.empty();
            }
        }
        return Optional.of(new TensorLayout(tensors));
    }

    private static long[] longs(JsonParser p, JsonToken value) throws IOException {
        if (value != JsonToken.START_ARRAY) {
            p.skipChildren();
            return null;
        }
        List<Long> out = new ArrayList<>();
        while (p.nextToken() == JsonToken.VALUE_NUMBER_INT) {
            out.add(p.getLongValue());
            if (out.size() > 16) {
                return null;
            }
        }
        if (p.currentToken() != JsonToken.END_ARRAY) {
            return null;
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** How a safetensors file writes {@code tensors} (name, dtype, shape; data in this order): its header bytes. */
    public static byte[] header(List<Tensor> tensors) {
        StringBuilder json = new StringBuilder("{");
        long at = 0;
        for (Tensor t : tensors) {
            if (!t.name().matches("[A-Za-z0-9._/-]{1,200}")) {
                throw new IllegalArgumentException("tensor name not written: " + t.name());
            }
            long length = t.end() - t.start();
            json.append(json.length() > 1 ? "," : "")
                    .append('"')
                    .append(t.name())
                    .append("\":{\"dtype\":\"")
                    .append(t.dtype())
                    .append("\",\"shape\":")
                    .append(Arrays.toString(t.shape()).replace(" ", ""))
                    .append(",\"data_offsets\":[")
                    .append(at)
                    .append(',')
                    .append(at + length)
                    .append("]}");
            at += length;
        }
        json.append('}');
        while ((8 + json.length()) % 8 != 0) {
            json.append(' ');
        }
        byte[] text = json.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] out = new byte[8 + text.length];
        for (int i = 0; i < 8; i++) {
            out[i] = (byte) ((long) text.length >>> (8 * i));
        }
        System.arraycopy(text, 0, out, 8, text.length);
        return out;
    }
}
