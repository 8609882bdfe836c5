package dev.outpost.model.artifact;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Writes GGUF files (version 3, as llama.cpp does): metadata with an architecture, an alignment and a tokenizer's
 * vocabulary (an array of strings, as every language model's file carries), then the tensor infos, then each
 * tensor's data at the alignment.
 */
final class GgufFiles {
    static final int F32 = 0;
    static final int F16 = 1;
    static final int Q8_0 = 8;
    static final int BF16 = 30;

    /** A tensor: its name, GGML type, dimensions as GGUF lists them (innermost first) and its bytes. */
    record Entry(String name, int type, long[] dims, byte[] data) {}

    private GgufFiles() {}

    static byte[] write(List<Entry> tensors, int alignment) {
        Out head = new Out();
        head.raw("GGUF".getBytes(StandardCharsets.US_ASCII))
                .u32(3)
                .u64(tensors.size())
                .u64(3);
        head.string("general.architecture").u32(8).string("mlp");
        head.string("general.alignment").u32(4).u32(alignment);
        head.string("tokenizer.ggml.tokens").u32(9).u32(8).u64(300);
        for (int i = 0; i < 300; i++) {
            head.string("tok" + i);
        }
        long offset = 0;
        for (Entry t : tensors) {
            head.string(t.name()).u32(t.dims().length);
            for (long d : t.dims()) {
                head.u64(d);
            }
            head.u32(t.type()).u64(offset);
            offset = align(offset + t.data().length, alignment);
        }
        Out file = head;
        file.zeros((int) (align(file.size(), alignment) - file.size()));
        for (Entry t : tensors) {
            file.raw(t.data());
            file.zeros((int) (align(file.size(), alignment) - file.size()));
        }
        return file.bytes();
    }

    static long align(long at, long alignment) {
        return (at + alignment - 1) / alignment * alignment;
    }

    private static final class Out {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Out raw(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        Out u32(long v) {
            return raw(ByteBuffer.allocate(4)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putInt((int) v)
                    .array());
        }

        Out u64(long v) {
            return raw(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(v)
                    .array());
        }

        Out string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return u64(b.length).raw(b);
        }

        Out zeros(int n) {
            return raw(new byte[n]);
        }

        int size() {
            return out.size();
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
