package dev.outpost.device.rows;

import dev.outpost.device.store.ChangeFeed;
import dev.outpost.device.store.RowStore;
import dev.outpost.device.store.TypedTables;
import dev.outpost.model.change.Change;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.RowStateCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Row states read and written through the {@link RowStore}, decoded and encoded once here, and the server-confirmed
 * base of each row that has changes the server has not accepted. The base is what undoes a discarded change: the row
 * is rebuilt as the base merged with the row's remaining unaccepted changes. It is taken before a row's first
 * unaccepted change, and moved forward by every pulled change and every acknowledged change of the row. Every method
 * runs inside the caller's transaction. Every row saved or removed gets an entry in the {@link ChangeFeed}, marked with
 * where this instance's writes come from.
 */
public final class RowStates {
    private final Schema schema;
    private final RowStore store;
    private final TypedTables typed;
    private final ChangeFeed feed;
    private final ChangeFeed.Origin origin;
    private final RowStateCodec codec;

    public RowStates(Schema schema, RowStore store, TypedTables typed, ChangeFeed feed, ChangeFeed.Origin origin) {
        this.schema = schema;
        this.store = store;
        this.typed = typed;
        this.feed = feed;
        this.origin = origin;
        this.codec = new RowStateCodec(schema);
    }

    public Optional<RowState> get(String table, String id) {
        return store.getRow(table, id).map(s -> codec.decode(table, id, s.scope(), s.state()));
    }

    /** A row already read from the store, decoded; an empty one in {@code scope} when none was stored. */
    public RowState of(String table, String id, String scope, Optional<RowStore.StoredRow> stored) {
        return stored.map(s -> codec.decode(table, id, s.scope(), s.state()))
                .orElseGet(() -> RowState.empty(table, id, scope));
    }

    /** The stored row, or an empty one in {@code scope}. */
    public RowState getOrEmpty(String table, String id, String scope) {
        return get(table, id).orElseGet(() -> RowState.empty(table, id, scope));
    }

    /** Saves the row, and its typed row with it (removed while the row is deleted), with its feed entry. */
    public void save(RowState row) {
        save(row, true, null);
    }

    /**
     * Saves a row a local write just changed from {@code before} (as stored, or empty when new): as {@link
     * #save(RowState)}, the write's change-log entries being its feed entries.
     */
    public void saveWrite(RowState before, RowState row) {
        save(row, false, before);
        feed.logged();
    }

    private void save(RowState row, boolean recordFeed, RowState before) {
        Table t = schema.table(row.table());
        boolean deleted = RowConflicts.isDeleted(t, row);
        int conflicts = RowConflicts.of(t, row).size();
        store.putRow(row.table(), row.id(), row.scope(), codec.encodeBinary(row), deleted, conflicts);
        if (deleted) {
            typed.delete(row.table(), row.id());
        } else if (before != null
                && !RowConflicts.isDeleted(t, before)
                && !before.fields().isEmpty()) {
            typed.put(t, row.id(), row.scope(), TypedValues.of(t, row), conflicts, TypedValues.of(t, before));
        } else {
            putTyped(t, row, conflicts);
        }
        if (recordFeed) {
            feed.record(row.table(), row.id(), deleted, origin);
        }
    }

    /** A row received whole, ready to save ({@link #received}, {@link #saveReceived}). */
    public record Received(
            Table table, String id, String scope, byte[] state, boolean deleted, int conflicts, List<Object> typed) {}

    /**
     * Prepares a row received whole from the service (a snapshot's), {@code state} being its stored form as it came
     * and {@code row} that decoded: pure work, which may run on another thread than the save.
     */
    public Received received(RowState row, byte[] state) {
        Table t = schema.table(row.table());
        boolean deleted = RowConflicts.isDeleted(t, row);
        return new Received(
                t,
                row.id(),
                row.scope(),
                state,
                deleted,
                RowConflicts.of(t, row).size(),
                deleted ? null : TypedValues.of(t, row));
    }

    /**
     * Saves received rows this device does not hold, all of them in a statement per table: each state stored as it
     * came, a new typed row, and no changes feed entry (the install resets the feed once: {@link #resetFeed}).
     */
    public void saveReceived(List<Received> rows) {
        List<RowStore.NewRow> stored = new ArrayList<>(rows.size());
        for (Received r : rows) {
            stored.add(new RowStore.NewRow(r.table().name(), r.id(), r.scope(), r.state(), r.deleted(), r.conflicts()));
        }
        store.insertAll(stored);
        // Typed rows by table, in runs (a snapshot comes ordered by table).
        List<TypedTables.NewRow> run = new ArrayList<>(rows.size());
        for (int from = 0, to; from < rows.size(); from = to) {
            Table t = rows.get(from).table();
            run.clear();
            for (to = from; to < rows.size() && rows.get(to).table() == t; to++) {
                Received r = rows.get(to);
                if (!r.deleted()) {
                    run.add(new TypedTables.NewRow(r.id(), r.scope(), r.typed(), r.conflicts()));
                }
            }
            typed.insertAll(t, run);
        }
    }

    /**
     * Runs {@code bulk} with the typed tables' column indexes dropped, builds them again after it, and returns what
     * {@code bulk} returns: for saving many rows into empty tables (a fresh device's snapshot install). In the
     * caller's transaction: a failure leaves the indexes as they were.
     */
    public <T> T indexesBuiltAfter(java.util.function.Supplier<T> bulk) {
        typed.dropIndexes(schema);
        T done = bulk.get();
        typed.ensure(schema);
        return done;
    }

    /** Tells the changes feed's readers to read the tables again (after rows were saved without entries). */
    public void resetFeed() {
        feed.reset();
    }

    /** The keys ({@link #key}) of every row stored, deleted ones included: for a fresh device, the few written here. */
    public java.util.Set<String> keys() {
        java.util.Set<String> keys = new java.util.HashSet<>();
        for (String table : schema.tables().keySet()) {
            for (RowStore.StoredRow r : store.findRows(table, true)) {
                keys.add(key(r.table(), r.id()));
            }
        }
        return keys;
    }

    /** Drops the changes feed's oldest entries beyond what it keeps. */
    public void pruneFeed() {
        feed.prune();
    }

    /** Fills a typed table from the stored rows (a table just created, or rebuilt). */
    public void fillTyped(String table) {
        Table t = schema.table(table);
        for (RowStore.StoredRow s : store.findRows(table, false)) {
            RowState row = codec.decode(table, s.id(), s.scope(), s.state());
            putTyped(t, row, RowConflicts.of(t, row).size());
        }
    }

    private void putTyped(Table t, RowState row, int conflicts) {
        typed.put(t, row.id(), row.scope(), TypedValues.of(t, row), conflicts);
    }

    /** Keeps {@code before} as the row's base unless one is kept already (called before a local write). */
    public void keepBase(RowState before, boolean stored) {
        if (store.getBase(before.table(), before.id()).isEmpty()) {
            store.putBase(before.table(), before.id(), stored ? codec.encode(before) : null);
        }
    }

    /**
     * Replaces a kept base by the row as the service holds it now ({@code server}, a snapshot's); no-op without a
     * base. A refused change is then undone onto what the service holds, not onto what it held before.
     */
    public void resetBase(RowState server) {
        if (store.getBase(server.table(), server.id()).isPresent()) {
            store.putBase(server.table(), server.id(), codec.encode(server));
        }
    }

    /** Whether any base is kept: pulls skip {@link #advanceBase} when none is. */
    public boolean hasBases() {
        return store.hasBases();
    }

    /** Moves a kept base forward by a change the server has (pulled, or acknowledged); no-op without a base. */
    public void advanceBase(Change c) {
        store.getBase(c.table(), c.rowId()).ifPresent(base -> {
            RowState from = base.map(s -> codec.decode(c.table(), c.rowId(), c.scope(), s))
                    .orElseGet(() -> RowState.empty(c.table(), c.rowId(), c.scope()));
            store.putBase(
                    c.table(),
                    c.rowId(),
                    codec.encode(
                            RowMerge.apply(schema.table(c.table()), from, c).row()));
        });
    }

    /**
     * Rebuilds and saves the row from its base and {@code remaining} (its unaccepted changes, in log order); returns
     * false, changing nothing, when no base is kept for it. A row the server never had and no change remains for is
     * removed, as if never written.
     */
    public boolean rebuild(String table, String id, String scope, List<Change> remaining) {
        Optional<Optional<String>> base = store.getBase(table, id);
        if (base.isEmpty()) {
            return false;
        }
        if (base.get().isEmpty() && remaining.isEmpty()) {
            store.deleteRow(table, id);
            typed.delete(table, id);
            feed.record(table, id, true, origin);
            return true;
        }
        Table t = schema.table(table);
        RowState row = base.get()
                .map(s -> codec.decode(table, id, scope, s))
                .orElseGet(() -> RowState.empty(table, id, scope));
        for (Change c : remaining) {
            row = RowMerge.apply(t, row, c).row();
        }
        save(row);
        return true;
    }

    /** Drops the bases of rows with no unaccepted change left ({@code stillUnsent}: table/id keys). */
    public void dropBasesExcept(java.util.Set<String> stillUnsent) {
        for (RowStore.RowKey k : store.findBases()) {
            if (!stillUnsent.contains(key(k.table(), k.id()))) {
                store.deleteBase(k.table(), k.id());
            }
        }
    }

    public static String key(String table, String id) {
        return table + "/" + id;
    }
}
