package dev.outpost.device.store;

import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import java.util.List;
import java.util.Map;

/**
 * The typed tables apps read (device-runtime/README.md, "Typed tables"): one per schema table, named as it, with
 * {@code id}, the scope column, one column per field and {@code _conflicts}; a row is there while it is live (a deleted
 * row is removed). Every method runs inside the caller's transaction and throws a {@code DeviceException} with exit
 * code 5 when the store fails.
 */
public interface TypedTables {
    /**
     * Creates the typed tables the schema names and adds the columns they lack (additive only: nothing is dropped or
     * retyped); returns the tables created, which the caller fills. Idempotent.
     */
    List<String> ensure(Schema schema);

    /**
     * Drops the typed tables' column indexes; {@link #ensure} builds them again. For a bulk insert into empty tables
     * (a fresh device's snapshot install): one sorted build after it beats growing each index row by row.
     */
    void dropIndexes(Schema schema);

    /**
     * Inserts or replaces a row: {@code values} holds one JDBC value (String, Long, or null) per column of the table,
     * in schema order.
     */
    void put(Table table, String id, String scope, List<Object> values, int conflicts);

    /**
     * As {@link #put(Table, String, String, List, int)} for a row whose typed row holds {@code before} (its values
     * before this write, as {@code values}): one statement, which leaves the indexes of unchanged columns alone.
     */
    void put(Table table, String id, String scope, List<Object> values, int conflicts, List<Object> before);

    /** Removes a row (no-op when it is not there). */
    void delete(String table, String id);

    /** The typed row of a row not held before: {@code values} as for {@link #put(Table, String, String, List, int)}. */
    record NewRow(String id, String scope, List<Object> values, int conflicts) {}

    /** Inserts the typed rows of rows not held before, in one statement where it can (a snapshot's install). */
    void insertAll(Table table, List<NewRow> rows);

    /**
     * Ids of the live rows of {@code table} whose columns equal {@code where} (column to JDBC value), ordered by
     * {@code order} (a column, or {@code id}) then id, both descending when {@code desc}; rows whose {@code order}
     * value is null come after the others, by id in the same direction. Starts after the row {@code afterId} (null:
     * from the first), at most {@code limit} ids. The caller has checked every column name against the schema. Exit
     * code 2 when {@code afterId} names no live row.
     */
    List<String> findIds(
            String table, Map<String, Object> where, String order, boolean desc, int limit, String afterId);

    /**
     * Runs a read-only query over the typed tables: {@code sql} must be one SELECT (or WITH) that reads only the typed
     * tables of {@code schema}, else it is refused with exit code 2 and nothing runs. Rows come as column name to
     * value (String, Long, Double or null), at most {@code rowsMax}.
     */
    List<Map<String, Object>> query(Schema schema, String sql, List<String> params, int rowsMax);
}
