package dev.outpost.model.snapshot;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A scope's rows as of one feed cursor: every row's whole merge state (clocks, counter contributions, set tags,
 * review values, tombstone), so a fresh device holds the scope at once and pulls the feed from {@code cursor} on.
 * One zstd stream of:
 *
 * <pre>
 * "OPSNAP" 0x01                     magic and format version
 * utf scope, utf cursor, int schemaVersion
 * per row: byte 1, utf table, utf id, byte deleted (0/1), int length, state (RowStateCodec bytes, either form)
 * byte 0, long rows                 the end, with the count of rows written
 * </pre>
 *
 * (utf: Java's modified UTF-8 with a 2-byte length; int and long big-endian.) The file is named by its SHA-256 and
 * fetched over the device's authenticated link, by ranges, so a cut download resumes and a corrupt one is found.
 */
public final class ScopeSnapshot {
    static final byte[] MAGIC = "OPSNAP".getBytes(StandardCharsets.US_ASCII);
    static final int FORMAT = 1;

    private ScopeSnapshot() {}

    /** One row of a snapshot. */
    public record Row(String table, String id, boolean deleted, byte[] state) {}

    /** What a snapshot says of itself before its rows. */
    public record Header(String scope, String cursor, int schemaVersion) {}

    /** Writes a snapshot: the header at once, then {@link #row} per row, then {@link #close}. */
    public static final class Writer implements AutoCloseable {
        private final DataOutputStream out;
        private long rows;

        public Writer(OutputStream target, Header header) throws IOException {
            this.out = new DataOutputStream(new BufferedOutputStream(new ZstdOutputStream(target, 6), 1 << 16));
            out.write(MAGIC);
            out.writeByte(FORMAT);
            out.writeUTF(header.scope());
            out.writeUTF(header.cursor());
            out.writeInt(header.schemaVersion());
        }

        public void row(String table, String id, boolean deleted, byte[] state) throws IOException {
            out.writeByte(1);
            out.writeUTF(table);
            out.writeUTF(id);
            out.writeByte(deleted ? 1 : 0);
            out.writeInt(state.length);
            out.write(state);
            rows++;
        }

        public long rows() {
            return rows;
        }

        @Override
        public void close() throws IOException {
            out.writeByte(0);
            out.writeLong(rows);
            out.close();
        }
    }

    /** Reads a snapshot row by row; {@link #next} is null after the last, once the end and its count checked out. */
    public static final class Reader implements AutoCloseable {
        private final DataInputStream in;
        private final Header header;
        private long rows;
        private boolean ended;

        public Reader(InputStream source) throws IOException {
            this.in = new DataInputStream(new BufferedInputStream(new ZstdInputStream(source), 1 << 16));
            try {
                byte[] magic = in.readNBytes(MAGIC.length);
                if (!java.util.Arrays.equals(magic, MAGIC)) {
                    throw malformed("not a scope snapshot");
                }
                int format = in.readUnsignedByte();
                if (format != FORMAT) {
                    throw new OutpostException(
                            ErrorCode.UNSUPPORTED_FORMAT_VERSION,
                            "scope snapshot format " + format + " (this reads 1)");
                }
                this.header = new Header(in.readUTF(), in.readUTF(), in.readInt());
            } catch (EOFException e) {
                throw malformed("the snapshot ends inside its header");
            }
        }

        public Header header() {
            return header;
        }

        public Row next() throws IOException {
            if (ended) {
                return null;
            }
            try {
                int tag = in.readUnsignedByte();
                if (tag == 0) {
                    long count = in.readLong();
                    if (count != rows) {
                        throw malformed("the snapshot says " + count + " rows and holds " + rows);
                    }
                    // The compressed frame must end here too (a cut file may hold every row and lose its end).
                    int more;
                    try {
                        more = in.read();
                    } catch (IOException e) {
                        throw malformed("the snapshot's compressed stream is cut or corrupt: " + e.getMessage());
                    }
                    if (more != -1) {
                        throw malformed("bytes after the snapshot's end");
                    }
                    ended = true;
                    return null;
                }
                if (tag != 1) {
                    throw malformed("unknown record " + tag + " after row " + rows);
                }
                String table = in.readUTF();
                String id = in.readUTF();
                boolean deleted = in.readUnsignedByte() == 1;
                int length = in.readInt();
                if (length < 0 || length > 64 << 20) {
                    throw malformed("a row state of " + length + " bytes");
                }
                byte[] state = in.readNBytes(length);
                if (state.length != length) {
                    throw malformed("the snapshot ends inside row " + (rows + 1));
                }
                rows++;
                return new Row(table, id, deleted, state);
            } catch (EOFException e) {
                throw malformed("the snapshot ends after row " + rows + " without its end");
            }
        }

        @Override
        public void close() throws IOException {
            in.close();
        }

        private static OutpostException malformed(String why) {
            return new OutpostException(ErrorCode.MALFORMED_PAYLOAD, why);
        }
    }
}
