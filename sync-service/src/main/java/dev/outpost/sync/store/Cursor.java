package dev.outpost.sync.store;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;

/**
 * A position in the change feed: the writing transaction's id, the feed entry's position, and how many of that
 * entry's changes were delivered ({@link #WHOLE} when all of them), compared in that order. Devices treat it as opaque
 * text: {@code xid:pos} after a whole entry, {@code xid:pos:taken} inside one; {@code 0:0} is the start.
 */
public record Cursor(long xid, long pos, int taken) implements Comparable<Cursor> {
    public static final int WHOLE = Integer.MAX_VALUE;
    public static final Cursor START = new Cursor(0, 0);

    public Cursor {
        if (xid < 0 || pos < 0 || taken < 1) {
            throw new IllegalArgumentException("no cursor " + xid + ":" + pos + ":" + taken);
        }
    }

    /** After the whole entry at {@code (xid, pos)}. */
    public Cursor(long xid, long pos) {
        this(xid, pos, WHOLE);
    }

    /** Inside the entry at its position: some of its changes are still to be delivered. */
    public boolean inside() {
        return taken != WHOLE;
    }

    public static Cursor parse(String text) {
        if (text == null || text.isEmpty()) {
            return START;
        }
        String[] parts = text.split(":", -1);
        try {
            if (parts.length < 2 || parts.length > 3) {
                throw new NumberFormatException();
            }
            long xid = Long.parseLong(parts[0]);
            long pos = Long.parseLong(parts[1]);
            int taken = parts.length == 3 ? Integer.parseInt(parts[2]) : WHOLE;
            if (xid < 0 || pos < 0 || taken < 1 || (parts.length == 3 && taken == WHOLE)) {
                throw new NumberFormatException();
            }
            return new Cursor(xid, pos, taken);
        } catch (NumberFormatException e) {
            throw new OutpostException(
                    ErrorCode.INVALID_CURSOR, "cursor '" + text + "' was not issued by this service");
        }
    }

    @Override
    public int compareTo(Cursor o) {
        int c = Long.compare(xid, o.xid);
        c = c != 0 ? c : Long.compare(pos, o.pos);
        return c != 0 ? c : Integer.compare(taken, o.taken);
    }

    @Override
    public String toString() {
        return inside() ? xid + ":" + pos + ":" + taken : xid + ":" + pos;
    }
}
