package dev.outpost.device.run;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/** A worker's sleep that a nudge or a stop cuts short; shared by the sync and the model worker. */
final class Wakeup {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private boolean nudged;
    private volatile boolean stopping;

    void nudge() {
        lock.lock();
        try {
            nudged = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    void stop() {
        stopping = true;
        nudge();
    }

    boolean stopping() {
        return stopping;
    }

    /** Sleeps up to {@code ms}, less when nudged or stopped; an interrupt stops the worker. */
    void await(long ms) {
        lock.lock();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            while (!nudged && !stopping) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !wake.await(left, TimeUnit.NANOSECONDS) && System.nanoTime() >= deadline) {
                    break;
                }
            }
            nudged = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopping = true;
        } finally {
            lock.unlock();
        }
    }
}
