package dev.outpost.sync;

import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import java.util.ArrayList;
import java.util.List;

/**
 * A digest of everything a request could change: every table of the service's own schema and of the typed data
 * schema, row by row (md5 of the rows' text in order), except what background jobs move on their own (rollouts'
 * evaluation) and Flyway's history.
 */
public final class DatabaseFingerprint {
    private DatabaseFingerprint() {}

    /** The tables fingerprinted, as {@code schema.table} in column {@code t}. */
    public static final String TABLES = "select table_schema || '.' || table_name as t from information_schema.tables"
            + " where table_schema in ('public', 'outpost_data') and table_type = 'BASE TABLE'"
            + " and table_name not in ('flyway_schema_history', 'rollout', 'rollout_event') order by 1";

    /** One table's digest, in column {@code d}. */
    public static String digestOf(String table) {
        return "select coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as d from " + table + " x";
    }

    public static String of(Pool pool) {
        List<String> tables = new ArrayList<>();
        for (Row r : pool.query(TABLES).execute().await().indefinitely()) {
            tables.add(r.getString("t"));
        }
        StringBuilder digest = new StringBuilder();
        for (String t : tables) {
            String md5 = pool.query(
                            "select coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as d from " + t + " x")
                    .execute()
                    .await()
                    .indefinitely()
                    .iterator()
                    .next()
                    .getString("d");
            digest.append(t).append('=').append(md5).append(' ');
        }
        return digest.toString();
    }
}
