package dev.outpost.device.sqlite;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Rows packed into one blob for the device SQLite's {@code outpost_rows(?)} table-valued function
 * (src/main/native/outpost_rows.c, which specifies the form): a batch of rows is saved with one bound value and one
 * statement, {@code insert into t (...) select c0, c1, ... from outpost_rows(?) where true}, instead of a JNI call
 * for every value. Little-endian numbers; a row's values in column order, {@link #columns} of them.
 */
final class RowBatch {
    /** Values in a row at most: the function's columns. */
    static final int COLUMNS_MAX = 72;

    private final int columns;
    private byte[] buffer;
    private int size;
    private int rows;
    private int inRow;

    RowBatch(int columns, int expectedBytes) {
        if (columns < 1 || columns > COLUMNS_MAX) {
            throw new IllegalArgumentException("a row of " + columns + " values");
        }
        this.columns = columns;
        this.buffer = new byte[Math.max(64, expectedBytes)];
        this.buffer[0] = (byte) columns;
        this.size = 1;
    }

    /** The select that reads a batch of rows of {@code columns} values, their columns in order. */
    static String select(int columns) {
        StringBuilder b = new StringBuilder("select ");
        for (int i = 0; i < columns; i++) {
            b.append(i == 0 ? "c" : ", c").append(i);
        }
        // "where true": an upsert after a select needs a where clause to be told from a join's "on".
        return b.append(" from outpost_rows(?) where true").toString();
    }

    int rows() {
        return rows;
    }

    /** The batch, every row whole. */
    byte[] toBytes() {
        if (inRow != 0) {
            throw new IllegalStateException("a row of " + inRow + " values of " + columns);
        }
        return Arrays.copyOf(buffer, size);
    }

    RowBatch addNull() {
        room(1);
        buffer[size++] = 0;
        return counted();
    }

    RowBatch add(long v) {
        room(9);
        buffer[size] = 1;
        putLong(size + 1, v);
        size += 9;
        return counted();
    }

    RowBatch add(double v) {
        room(9);
        buffer[size] = 2;
        putLong(size + 1, Double.doubleToRawLongBits(v));
        size += 9;
        return counted();
    }

    RowBatch add(String v) {
        if (v == null) {
            return addNull();
        }
        int n = v.length();
        room(5 + n);
        int at = size + 5;
        int i = 0;
        for (; i < n; i++) { // ASCII as it is: ids, scopes, table names, most field values
            char ch = v.charAt(i);
            if (ch >= 0x80) {
                break;
            }
            buffer[at + i] = (byte) ch;
        }
        if (i < n) {
            byte[] utf8 = v.getBytes(StandardCharsets.UTF_8);
            room(5 + utf8.length);
            System.arraycopy(utf8, 0, buffer, at, utf8.length);
            n = utf8.length;
        }
        buffer[size] = 3;
        putInt(size + 1, n);
        size += 5 + n;
        return counted();
    }

    RowBatch add(byte[] v) {
        if (v == null) {
            return addNull();
        }
        room(5 + v.length);
        buffer[size] = 4;
        putInt(size + 1, v.length);
        System.arraycopy(v, 0, buffer, size + 5, v.length);
        size += 5 + v.length;
        return counted();
    }

    /** A value as JDBC's {@code setObject} would bind it: text, integers, reals, bytes or null. */
    RowBatch addObject(Object v) {
        if (v == null) {
            return addNull();
        } else if (v instanceof String s) {
            return add(s);
        } else if (v instanceof Long l) {
            return add(l.longValue());
        } else if (v instanceof Integer i) {
            return add(i.longValue());
        } else if (v instanceof Boolean b) {
            return add(b ? 1L : 0L);
        } else if (v instanceof Double d) {
            return add(d.doubleValue());
        } else if (v instanceof byte[] b) {
            return add(b);
        }
        return add(v.toString());
    }

    private RowBatch counted() {
        if (++inRow == columns) {
            inRow = 0;
            rows++;
        }
        return this;
    }

    private void room(int n) {
        if (buffer.length - size < n) {
            buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, size + n));
        }
    }

    private void putInt(int at, int v) {
        buffer[at] = (byte) v;
        buffer[at + 1] = (byte) (v >>> 8);
        buffer[at + 2] = (byte) (v >>> 16);
        buffer[at + 3] = (byte) (v >>> 24);
    }

    private void putLong(int at, long v) {
        putInt(at, (int) v);
        putInt(at + 4, (int) (v >>> 32));
    }
}
