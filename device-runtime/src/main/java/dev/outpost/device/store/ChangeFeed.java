package dev.outpost.device.store;

import java.util.List;

/**
 * The rows changed on this device, in the order they changed: one entry per saved row, from a local write or from a
 * sync, numbered by a {@code seq} that only grows (device-runtime/README.md, "Changes feed"). The oldest entries are
 * dropped once more than {@link #KEEP} are kept; a reader whose place is older learns it from {@link #oldest}. Every
 * method except {@link #awaitRecorded} runs inside the caller's transaction and throws a {@code DeviceException} with
 * exit code 5 when the store fails.
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

    /** Appends an entry for a row just saved (or removed). */
    void record(String table, String id, boolean deleted, Origin origin);

    /** Entries after {@code seq}, oldest first, of {@code table} only unless it is null, at most {@code limit}. */
    List<Entry> after(long seq, String table, int limit);

    /** The newest entry's seq, 0 when there has been none. */
    long head();

    /** The oldest kept entry's seq, 0 when none is kept. */
    long oldest();

    /** Drops the oldest entries beyond {@link #KEEP} (in steps, so most calls delete nothing). */
    void prune();

    /**
     * Waits outside any transaction until an entry is recorded (by this process; writers in other processes are
     * seen by asking again) or {@code ms} pass; returns at once when interrupted.
     */
    void awaitRecorded(long ms);
}
