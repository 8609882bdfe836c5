package dev.outpost.device.store;

import java.util.List;

/**
 * Install reports waiting to reach the service, oldest first, at most {@link #REPORTS_MAX}: queueing one more drops
 * the oldest and counts it in {@link #dropped}. Every method runs inside the caller's transaction and throws a
 * {@code DeviceException} with exit code 5 when the store fails.
 */
public interface ReportStore {
    /** A device that stays offline for months keeps the newest reports; the service needs the latest state most. */
    int REPORTS_MAX = 256;

    record QueuedReport(long id, String body) {}

    void queue(String body);

    /** The oldest reports, at most {@code limit}. */
    List<QueuedReport> findOldest(int limit);

    long count();

    /** Reports dropped since the home was made: queued past the bound, or refused for good by the service. */
    long dropped();

    /** Removes a delivered report (no-op when it is gone); {@code refused} also counts it as dropped. */
    void delete(long id, boolean refused);
}
