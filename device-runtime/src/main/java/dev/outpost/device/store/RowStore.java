package dev.outpost.device.store;

import java.util.List;
import java.util.Optional;

/**
 * Row states as the merge keeps them ({@code RowStateCodec}'s stored form), and the server-confirmed base of rows that
 * have changes the server has not accepted yet. Every method runs inside the caller's transaction
 * ({@link Transactions}); each throws a {@code DeviceException} with exit code 5 when the store fails, and nothing else.
 */
public interface RowStore {
    /**
     * A stored row; {@code deleted} is true for a tombstone that won. Its state is in either stored form ({@code
     * RowStateCodec.decode(..., byte[])}): CBOR as written now, JSON text as written by releases before.
     */
    record StoredRow(String table, String id, String scope, byte[] state, boolean deleted) {}

    /** The row, or empty when it was never stored (a deleted row is present, with {@code deleted}). */
    Optional<StoredRow> getRow(String table, String id);

    /** Inserts or replaces the row (idempotent). The scope is kept from the first put: a row never changes scope. */
    void putRow(String table, String id, String scope, byte[] state, boolean deleted, int conflicts);

    /** A row for {@link #insertAll}. */
    record NewRow(String table, String id, String scope, byte[] state, boolean deleted, int conflicts) {}

    /** As {@link #putRow} for each row, in one statement: a snapshot's install of rows this store does not hold. */
    void insertAll(List<NewRow> rows);

    /** Removes the row (no-op when there is none): only for a row the server never had and no change holds. */
    void deleteRow(String table, String id);

    /** The rows of a table ordered by id; deleted ones only if asked. */
    List<StoredRow> findRows(String table, boolean withDeleted);

    /** Rows with at least one open conflict, by table and id. */
    List<StoredRow> findRowsWithConflicts();

    /**
     * The row as the server knows it, kept while the row has changes the server has not accepted: empty when no base
     * is kept; a present base whose state is empty means the server knew no such row.
     */
    Optional<Optional<String>> getBase(String table, String id);

    /** Keeps (or replaces) the server-confirmed state of a row; {@code state} null when the server has no such row. */
    void putBase(String table, String id, String state);

    /** Whether any base is kept (a page of pulled changes skips looking bases up when none is). */
    boolean hasBases();

    /** A row's table and id. */
    record RowKey(String table, String id) {}

    /** Every row a base is kept for. */
    List<RowKey> findBases();

    /** Drops a row's base (no-op when there is none). */
    void deleteBase(String table, String id);
}
