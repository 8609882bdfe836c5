package dev.outpost.model.artifact;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Writes ONNX models (protobuf {@code ModelProto}, IR version 9, opset 17) as exporters do: the graph's nodes, its
 * input and output, then each initializer with its dimensions, element type, name and data. An initializer's data are
 * {@code raw_data}, or for {@link Data#FLOAT_DATA} the packed {@code float_data} list, or for {@link Data#EXTERNAL}
 * a reference to a file beside the model ({@code data_location} EXTERNAL).
 */
final class OnnxFiles {
    static final int FLOAT = 1;
    static final int INT8 = 3;
    static final int FLOAT16 = 10;
    static final int BFLOAT16 = 16;

    enum Data {
        RAW,
        FLOAT_DATA,
        EXTERNAL
    }

    /** An initializer: its name, TensorProto.DataType, dimensions (outermost first), little-endian data. */
    record Initializer(String name, int dataType, long[] dims, byte[] data, Data stored) {
        Initializer(String name, int dataType, long[] dims, byte[] data) {
            this(name, dataType, dims, data, Data.RAW);
        }
    }

    /** A node: its operator, inputs, outputs and integer attributes (name, value pairs). */
    record Node(String op, List<String> inputs, List<String> outputs, List<Object> intAttributes) {}

    private OnnxFiles() {}

    /**
     * A model of {@code nodes} and {@code initializers}, with one input and one output of element type
     * {@code elemType} (a dimension below 0 is the batch, a named one).
     */
    static byte[] write(
            List<Node> nodes,
            int elemType,
            String input,
            long[] inputShape,
            String output,
            long[] outputShape,
            List<Initializer> initializers) {
        Message graph = new Message();
        for (Node n : nodes) {
            Message node = new Message();
            n.inputs().forEach(i -> node.string(1, i));
            n.outputs().forEach(o -> node.string(2, o));
            node.string(3, n.op() + "_" + n.outputs().getFirst());
            node.string(4, n.op());
            for (int a = 0; a < n.intAttributes().size(); a += 2) {
                node.message(
                        5,
                        new Message()
                                .string(1, (String) n.intAttributes().get(a))
                                .varint(3, ((Number) n.intAttributes().get(a + 1)).longValue())
                                .varint(20, 2)); // AttributeType INT
            }
            graph.message(1, node);
        }
        graph.string(2, "outpost-test");
        for (Initializer t : initializers) {
            graph.message(5, tensor(t));
        }
        graph.message(11, valueInfo(input, elemType, inputShape));
        graph.message(12, valueInfo(output, elemType, outputShape));
        return new Message()
                .varint(1, 9) // ir_version
                .string(2, "outpost-test")
                .string(3, "1")
                .message(7, graph)
                .message(8, new Message().string(1, "").varint(2, 17)) // opset_import
                .bytes();
    }

    private static Message tensor(Initializer t) {
        Message m = new Message();
        for (long d : t.dims()) {
            m.varint(1, d);
        }
        m.varint(2, t.dataType());
        switch (t.stored()) {
            case RAW -> m.string(8, t.name()).bytes(9, t.data());
            case FLOAT_DATA -> m.bytes(4, t.data()).string(8, t.name()); // packed floats: the same little-endian bytes
            case EXTERNAL ->
                m.string(8, t.name())
                        .message(13, new Message().string(1, "location").string(2, t.name() + ".bin"))
                        .varint(14, 1);
        }
        return m;
    }

    private static Message valueInfo(String name, int elemType, long[] shape) {
        Message dims = new Message();
        for (long d : shape) {
            dims.message(1, d < 0 ? new Message().string(2, "batch") : new Message().varint(1, d));
        }
        Message tensorType = new Message().varint(1, elemType).message(2, dims);
        return new Message().string(1, name).message(2, new Message().message(1, tensorType));
    }

    /** A protobuf message being written: fields in the order they are added. */
    static final class Message {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Message varint(int field, long value) {
            tag(field, 0);
            raw(value);
            return this;
        }

        Message bytes(int field, byte[] value) {
            tag(field, 2);
            raw(value.length);
            out.writeBytes(value);
            return this;
        }

        Message string(int field, String value) {
            return bytes(field, value.getBytes(StandardCharsets.UTF_8));
        }

        Message message(int field, Message value) {
            return bytes(field, value.bytes());
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private void tag(int field, int wire) {
            raw((long) field << 3 | wire);
        }

        private void raw(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) (v & 0x7f) | 0x80);
                v >>>= 7;
            }
            out.write((int) v);
        }
    }
}
