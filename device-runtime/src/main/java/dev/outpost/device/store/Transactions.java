package dev.outpost.device.store;

/**
 * Runs work in one local transaction. Contract: {@code work} is committed if it returns and rolled back if it throws;
 * what it threw is rethrown as it is, except a storage failure of the commit itself, which is a {@code DeviceException}
 * with exit code 5. Transactions do not nest: calling it from inside {@code work} runs the inner work as part of the
 * outer transaction (it is committed with it). Calls from several threads run one at a time.
 */
public interface Transactions {
    @FunctionalInterface
    interface Work<T> {
        T run();
    }

    <T> T inTransaction(Work<T> work);

    /**
     * As {@link #inTransaction}, for one transaction that writes far more new rows than it changes (a snapshot
     * installed on a fresh device): a store may write it another way, as atomically.
     */
    default <T> T inBulkTransaction(Work<T> work) {
        return inTransaction(work);
    }

    /** As {@link #inTransaction}, for work that returns nothing. */
    default void run(Runnable work) {
        inTransaction(() -> {
            work.run();
            return null;
        });
    }
}
