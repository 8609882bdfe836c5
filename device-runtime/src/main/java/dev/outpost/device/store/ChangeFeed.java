package dev.outpost.device.store;

import java.util.List;

/**
 * The rows changed on this device, in the order they changed: one entry per saved row, from a local write or from a
 * sync, numbered by a {@code seq} that only grows (device-runtime/README.md, "Changes feed"). A local write's entries
 * are the change log's (its changes are logged anyway, and one page fewer a write is what keeps local writes at half
 * the speed of raw SQLite); everything else (pulled rows, discarded changes undone) is {@link #record}ed, under the
 * same seq. The oldest entries stop being listed once more than {@link #KEEP} are kept; a reader whose place is older
 * learns it from {@link #oldest}. Every method except {@link #awaitRecorded} runs inside the caller's transaction and
 * throws a {@code DeviceException} with exit code 5 when the store fails.
 */
public interface ChangeFeed {
    /** Entries kept: a reader further behind must read the tables again. */
    int KEEP = 100_000;

    /** Where a change came from. */
    enum Origin {
        /** A write on this device (put, add, tag, delete, a discarded change undone). */
        LOCAL("local"),
        /** A change pulled from the service. */
        SYNC("sync");

        public final String key;

        Origin(String key) {
            this.key = key;
        }
    }

    record Entry(long seq, String table, String id, boolean deleted, String origin) {}

    /** Appends an entry for a row just saved (or removed) by anything but a logged local write. */
    void record(String table, String id, boolean deleted, Origin origin);

    /** A local write was logged (its change-log entries are its feed entries): wakes the readers waiting. */
    void logged();

    /**
     * Entries after {@code seq}, oldest first, of {@code table} only unless it is null, at most {@code limit}; a local
     * write of several changes to one row is one entry (its last seq).
     */
    List<Entry> after(long seq, String table, int limit);

    /** The newest entry's seq, 0 when there has been none. */
    long head();

    /** The oldest seq from which every entry is listed, 0 when there has been none. */
    long oldest();

    /**
     * Every reader must read the tables again: rows were saved without entries (a snapshot installed in bulk). Every
     * place before now becomes older than {@link #oldest}.
     */
    void reset();

    /** Drops the oldest entries beyond {@link #KEEP} (in steps, so most calls delete nothing). */
    void prune();

    /**
     * Waits outside any transaction until an entry is recorded (by this process; writers in other processes are
     * seen by asking again) or {@code ms} pass; returns at once when interrupted.
     */
    void awaitRecorded(long ms);
}
