package dev.outpost.device.sync;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.rows.RowStates;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import dev.outpost.model.snapshot.ScopeSnapshot;
import dev.outpost.model.wire.RowStateCodec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Reads and decodes snapshot files on a thread of its own, a batch of rows at a time, while the installing thread
 * saves the batch before: decoding a row and saving it cost about the same, and a device has two cores or more. At
 * most {@link #IN_FLIGHT} batches wait: small enough to die in the young generation (a deeper hand-over kept batches
 * past it and the serial collector grew the old generation instead).
 */
final class SnapshotDecoding implements AutoCloseable {
    /** Rows per batch. */
    static final int BATCH = 256;

    private static final int IN_FLIGHT = 2;
    private static final Object END = new Object();

    /** A row this device holds: rebuilt by the installing thread with its unaccepted changes. */
    record Held(Table table, String key, RowState theirs) {}

    /** Rows in snapshot order: those the device does not hold, ready to save, and those it holds. */
    record Batch(List<RowStates.Received> fresh, List<Held> held) {}

    private final List<Path> files;
    private final List<String> scopes;
    private final Schema schema;
    private final RowStates states;
    private final Set<String> local;
    private final HybridClock clock;
    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(IN_FLIGHT);
    private final Thread thread;
    private volatile boolean closed;
    private long rows;

    /**
     * Starts decoding {@code files} (the snapshots of {@code scopes}, in order); {@code local} holds the keys of the
     * rows held here, and {@code clock} receives every row's clock (read it once {@link #next} has answered null).
     */
    SnapshotDecoding(
            List<Path> files,
            List<String> scopes,
            Schema schema,
            RowStates states,
            Set<String> local,
            HybridClock clock) {
        this.files = files;
        this.scopes = scopes;
        this.schema = schema;
        this.states = states;
        this.local = local;
        this.clock = clock;
        this.thread = Thread.ofPlatform().name("snapshot-decoding").daemon().start(this::run);
    }

    /** The next batch; null after the last. A failure to read or decode is thrown here. */
    Batch next() {
        Object o;
        try {
            o = queue.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException(ExitCode.UNREACHABLE, "interrupted while installing a snapshot", e);
        }
        if (o == END) {
            return null;
        }
        if (o instanceof RuntimeException e) {
            throw e;
        }
        if (o instanceof Error e) {
            throw e;
        }
        return (Batch) o;
    }

    /** Rows read, once {@link #next} has answered null. */
    long rows() {
        return rows;
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        try {
            RowStateCodec codec = new RowStateCodec(schema);
            Batch batch = new Batch(new ArrayList<>(BATCH), new ArrayList<>());
            for (int i = 0; i < files.size(); i++) {
                try (InputStream in = Files.newInputStream(files.get(i));
                        ScopeSnapshot.Reader r = new ScopeSnapshot.Reader(in)) {
                    if (r.header().schemaVersion() != schema.version()) {
                        throw new DeviceException(
                                ExitCode.REFUSED,
                                "the snapshot of " + scopes.get(i) + " is of schema version "
                                        + r.header().schemaVersion() + ", this device runs " + schema.version());
                    }
                    String scope = r.header().scope();
                    for (ScopeSnapshot.Row row; (row = r.next()) != null; ) {
                        Optional<Table> table = schema.getTable(row.table());
                        if (table.isEmpty()) {
                            continue; // a table this device's schema does not have (the feed would skip it too)
                        }
                        RowState theirs = codec.decode(row.table(), row.id(), scope, row.state());
                        String key = RowStates.key(row.table(), row.id());
                        if (local.contains(key)) {
                            batch.held().add(new Held(table.get(), key, theirs));
                        } else {
                            batch.fresh().add(states.received(theirs, row.state()));
                        }
                        clock.receive(theirs.clock());
                        rows++;
                        if (batch.fresh().size() + batch.held().size() == BATCH) {
                            put(batch);
                            batch = new Batch(new ArrayList<>(BATCH), new ArrayList<>());
                        }
                    }
                }
            }
            if (!batch.fresh().isEmpty() || !batch.held().isEmpty()) {
                put(batch);
            }
            put(END);
        } catch (IOException e) {
            offer(new UncheckedIOException(e));
        } catch (RuntimeException | Error e) {
            offer(e);
        } catch (InterruptedException e) {
            // closed: nobody waits for more
        }
    }

    private void put(Object o) throws InterruptedException {
        while (!queue.offer(o, 100, TimeUnit.MILLISECONDS)) {
            if (closed) {
                throw new InterruptedException();
            }
        }
    }

    /** Hands a failure over unless the installing thread has gone. */
    private void offer(Throwable failure) {
        try {
            put(failure);
        } catch (InterruptedException e) {
            // closed: the installing thread stopped for its own reason
        }
    }
}
