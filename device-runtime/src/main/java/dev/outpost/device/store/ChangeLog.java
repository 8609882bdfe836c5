package dev.outpost.device.store;

import java.util.List;
import java.util.Optional;

/**
 * The device's own changes, oldest first, in the wire codec's JSON form. A change is {@code pending} until the server
 * acknowledges its batch ({@code sent}), or set aside as {@code refused} with the server's code and message, or
 * {@code discarded} by the user. Entries are never deleted and seqs never reused. Every method runs inside the
 * caller's transaction; each throws a {@code DeviceException} with exit code 5 when the store fails, and a method that
 * names a seq says what it does when there is no such entry.
 */
public interface ChangeLog {
    /** One change-log entry. */
    record LoggedChange(long seq, String change, String batchId, String status, String code, String message) {
        public boolean refused() {
            return REFUSED.equals(status);
        }
    }

    String PENDING = "pending";
    String SENT = "sent";
    String REFUSED = "refused";
    String DISCARDED = "discarded";

    /** Appends a change as pending. */
    void append(String changeJson);

    /** The entry appended last (the highest seq), if any: its clock is the newest this device stamped. */
    Optional<LoggedChange> getNewest();

    /** The clock of {@link #getNewest()}'s change (as text), read without decoding the change. */
    Optional<String> newestClock();

    /** The entry {@code seq}, or empty. */
    Optional<LoggedChange> get(long seq);

    /** The oldest pending changes, at most {@code limit}, in seq order. */
    List<LoggedChange> findPending(int limit);

    long countPending();

    List<LoggedChange> findRefused();

    /** Changes the server has not accepted: pending (in a batch or not) and refused, in seq order. */
    List<LoggedChange> findUnsent();

    /** Every change not refused or discarded, oldest first (tests and tools). */
    List<LoggedChange> findSentAndPending();

    /** The pending changes that carry {@code batchId}, in seq order (empty when none does). */
    List<LoggedChange> findBatch(String batchId);

    /** Gives the pending changes {@code seqs} the batch id {@code batchId} (idempotent). */
    void assignBatch(List<Long> seqs, String batchId);

    /** Forgets the batch id of {@code seqs}: they go out in a new batch. Missing seqs are skipped. */
    void clearBatch(List<Long> seqs);

    /** Marks {@code seqs} accepted by the server (idempotent; missing seqs are skipped). */
    void markSent(List<Long> seqs);

    /** Sets a change aside as refused, with the server's code and message, out of its batch. */
    void markRefused(long seq, String code, String message);

    /** Puts every change refused with {@code code} back in line to be pushed; returns how many. */
    int requeueRefused(String code);

    /**
     * Puts the refused change {@code seq} back in line to be pushed. Returns false, changing nothing, when there is no
     * refused change with that seq.
     */
    boolean retry(long seq);

    /**
     * Marks the refused or pending change {@code seq} discarded: it is never pushed. Returns false, changing nothing,
     * when there is no such unsent change.
     */
    boolean discard(long seq);

    /** Replaces an entry's change text (a re-stamp); its status stays. A missing seq is skipped. */
    void rewrite(long seq, String changeJson);
}
