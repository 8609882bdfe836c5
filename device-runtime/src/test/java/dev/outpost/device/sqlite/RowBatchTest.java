package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The packed form {@code outpost_rows} reads (outpost_rows.c), read back here by a reader of that form. */
class RowBatchTest {
    @Test
    void everyKindOfValuePacksAsTheFunctionReadsIt() {
        RowBatch batch = new RowBatch(6, 8); // a small first buffer: it grows
        String accented = "récolte 收成 \uD83C\uDF3E";
        batch.add("crop_record")
                .add(-5L)
                .add(2.5)
                .addNull()
                .add(new byte[] {1, 2, 3})
                .addObject(accented);
        batch.addObject(7)
                .addObject(true)
                .addObject(null)
                .addObject(1.25)
                .addObject(new byte[0])
                .addObject("");
        assertEquals(2, batch.rows());
        List<Object> values = read(batch.toBytes());
        assertEquals(12, values.size());
        assertEquals("crop_record", values.get(0));
        assertEquals(-5L, values.get(1));
        assertEquals(2.5, values.get(2));
        assertEquals(null, values.get(3));
        assertArrayEquals(new byte[] {1, 2, 3}, (byte[]) values.get(4));
        assertEquals(accented, values.get(5), "text is UTF-8, non-ASCII included");
        assertEquals(7L, values.get(6));
        assertEquals(1L, values.get(7), "booleans as 0/1");
        assertEquals(null, values.get(8));
        assertEquals(1.25, values.get(9));
        assertArrayEquals(new byte[0], (byte[]) values.get(10));
        assertEquals("", values.get(11));
    }

    @Test
    void aBatchIsOnlyWholeRows() {
        RowBatch batch = new RowBatch(2, 16).add(1L);
        assertThrows(IllegalStateException.class, batch::toBytes);
        batch.add(2L);
        assertEquals(1, batch.rows());
        assertEquals(1 + 9 + 9, batch.toBytes().length);
        assertThrows(IllegalArgumentException.class, () -> new RowBatch(0, 16));
        assertThrows(IllegalArgumentException.class, () -> new RowBatch(RowBatch.COLUMNS_MAX + 1, 16));
    }

    @Test
    void theSelectNamesEveryColumnInOrder() {
        assertEquals("select c0, c1, c2 from outpost_rows(?) where true", RowBatch.select(3));
    }

    /** The values of a packed batch in order, as outpost_rows.c reads them. */
    private static List<Object> read(byte[] batch) {
        ByteBuffer b = ByteBuffer.wrap(batch).order(ByteOrder.LITTLE_ENDIAN);
        int columns = b.get() & 0xff;
        List<Object> out = new ArrayList<>();
        while (b.hasRemaining()) {
            int tag = b.get();
            switch (tag) {
                case 0 -> out.add(null);
                case 1 -> out.add(b.getLong());
                case 2 -> out.add(b.getDouble());
                case 3, 4 -> {
                    byte[] v = new byte[b.getInt()];
                    b.get(v);
                    out.add(tag == 3 ? new String(v, StandardCharsets.UTF_8) : v);
                }
                default -> throw new AssertionError("tag " + tag + " in " + Arrays.toString(batch));
            }
        }
        assertEquals(0, out.size() % columns, "whole rows of " + columns);
        return out;
    }
}
