package dev.outpost.device.rows;

import java.util.List;

/**
 * A page of the changes feed: the rows changed after the seq asked for, oldest first, and the seq to ask after next.
 * {@code reset}: the seq asked for is older than the oldest entry kept (or one this feed never gave), so changes in
 * between are gone from the feed and the reader must read the tables again; {@code last} is then the newest seq.
 */
public record RowChanges(List<Entry> changes, long last, boolean reset) {
    public RowChanges {
        changes = List.copyOf(changes);
    }

    /** One changed row: {@code row} is what {@code get} shows now, null when the row is deleted. */
    public record Entry(long seq, String table, String id, boolean deleted, String origin, RowRecord row) {}
}
