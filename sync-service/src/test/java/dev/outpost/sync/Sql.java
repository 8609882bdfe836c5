package dev.outpost.sync;

import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;

/** What tests read straight from PostgreSQL, to check what the API did to it. */
final class Sql {
    private Sql() {}

    /** The single number a {@code select count(*) ...} answers. */
    static long count(Pool pool, String sql) {
        return pool.query(sql)
                .execute()
                .await()
                .indefinitely()
                .iterator()
                .next()
                .getLong(0);
    }

    /** A row's stored state, as the service wrote it (RowStateCodec, either form). */
    static byte[] rowState(Pool pool, String table, String id) {
        return pool.preparedQuery("select state from row_state where tbl = $1 and id = $2")
                .execute(Tuple.of(table, id))
                .await()
                .indefinitely()
                .iterator()
                .next()
                .getBuffer("state")
                .getBytes();
    }

    /** Runs one statement with its parameters (a test's setup straight in the database); returns rows changed. */
    static int execute(Pool pool, String sql, Object... params) {
        return pool.preparedQuery(sql)
                .execute(Tuple.from(params))
                .await()
                .indefinitely()
                .rowCount();
    }
}
