package dev.outpost.sync.store;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;

/**
 * A position in the change feed: the writing transaction's id and the row's position, compared as a pair. Devices
 * treat it as opaque text ({@code xid:pos}); {@code 0:0} is the start.
 */
public record Cursor(long xid, long pos) implements Comparable<Cursor> {
    public static final Cursor START = new Cursor(0, 0);

    public static Cursor parse(String text) {
        if (text == null || text.isEmpty()) {
            return START;
        }
        int colon = text.indexOf(':');
        try {
            if (colon <= 0) {
                throw new NumberFormatException();
            }
            Cursor c = new Cursor(Long.parseLong(text.substring(0, colon)), Long.parseLong(text.substring(colon + 1)));
            if (c.xid < 0 || c.pos < 0) {
                throw new NumberFormatException();
            }
            return c;
        } catch (NumberFormatException e) {
            throw new OutpostException(
                    ErrorCode.INVALID_CURSOR, "cursor '" + text + "' was not issued by this service");
        }
    }

    @Override
    public int compareTo(Cursor o) {
        int c = Long.compare(xid, o.xid);
        return c != 0 ? c : Long.compare(pos, o.pos);
    }

    @Override
    public String toString() {
        return xid + ":" + pos;
    }
}
