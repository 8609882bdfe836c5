package dev.outpost.sync.store;

import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.RowView;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.RowStateCodec;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The typed tables people query at the office (docs/data.md): one per schema table in its own PostgreSQL schema
 * ({@code outpost_data} by default), with {@code id}, the scope column, one column per field in its natural type,
 * {@code _changed_at} and {@code _conflicts}. A row is there while it is live: a delete removes it (its history and
 * tombstone stay in {@code row_state}). Kept by {@link #write} in the transaction that merges the rows, so they are
 * never behind the change feed; {@link #rebuild} makes them again from the row states.
 */
public final class DataTables {
    private static final int REBUILD_PAGE = 2_000;

    private final String dataSchema;
    private final Schema schema;
    private final RowStateCodec codec;
    private final Map<String, String> upserts = new LinkedHashMap<>();
    private final Map<String, String> deletes = new LinkedHashMap<>();

    public DataTables(String dataSchema, Schema schema) {
        this.dataSchema = dataSchema;
        this.schema = schema;
        this.codec = new RowStateCodec(schema);
        for (Table t : schema.tables().values()) {
            upserts.put(t.name(), upsert(t));
            deletes.put(t.name(), "delete from " + table(t.name()) + " where id = any($1::text[])");
        }
    }

    /** The PostgreSQL schema the tables live in. */
    public String dataSchema() {
        return dataSchema;
    }

    /** A row of a typed table as {@link #write} takes it: the row's values in text, or a removal. */
    public record TypedRow(String table, String id, String scope, List<String> values, int conflicts) {
        public boolean removed() {
            return values == null;
        }
    }

    /** The typed row for a row state: its values, or a removal when the row is deleted. */
    public TypedRow row(RowState row, boolean deleted, int conflicts) {
        return new TypedRow(
                row.table(), row.id(), row.scope(), deleted ? null : values(schema.table(row.table()), row), conflicts);
    }

    /**
     * Each column's value in text, cast by PostgreSQL to its type: a field never written is null (a counter 0, a set
     * empty); review fields hold their provisional winner; counters their total; sets and JSON their JSON text.
     */
    public static List<String> values(Table table, RowState row) {
        List<String> out = new ArrayList<>(table.columns().size());
        for (Column c : table.columns().values()) {
            FieldState f = row.field(c.name());
            if (f == null) {
                out.add(c.merge() == MergePolicy.SET ? "[]" : c.merge() == MergePolicy.COUNTER ? "0" : null);
            } else {
                out.add(text(RowView.valueOf(f)));
            }
        }
        return out;
    }

    private static String text(FieldValue v) {
        if (v instanceof FieldValue.Text t) {
            return t.value();
        } else if (v instanceof FieldValue.Int i) {
            return Long.toString(i.value());
        } else if (v instanceof FieldValue.Bool b) {
            return Boolean.toString(b.value());
        } else if (v instanceof FieldValue.Decimal d) {
            return d.value().toPlainString();
        } else if (v instanceof FieldValue.Date d) {
            return d.value().toString();
        } else if (v instanceof FieldValue.Timestamp t) {
            return t.value().toString();
        } else if (v instanceof FieldValue.Json j) {
            return j.canonicalText();
        }
        return null;
    }

    /** PostgreSQL's type for a schema type. */
    public static String sqlType(Column c) {
        return switch (c.type()) {
            case TEXT, REF -> "text";
            case INT -> "bigint";
            case DECIMAL -> "numeric";
            case BOOL -> "boolean";
            case DATE -> "date";
            case TIMESTAMP -> "timestamptz";
            case JSON -> "jsonb";
            case SET -> "text[]";
        };
    }

    /** The value in text as its column's type (a set's JSON array as a text array). */
    private static String cast(Column c, String value) {
        if (c.type() == ColumnType.SET) {
            return "case when " + value + " is null then null else array(select jsonb_array_elements_text(" + value
                    + "::jsonb)) end";
        }
        return value + "::" + sqlType(c);
    }

    /**
     * Creates the schema and tables, adds the columns and indexes the tables lack (additive only: nothing is dropped
     * or retyped); one transaction.
     */
    public Uni<Void> ensure(Pool pool) {
        List<String> ddl = new ArrayList<>(ddl());
        ddl.addAll(triggers());
        return pool.withTransaction(tx -> run(tx, ddl, 0));
    }

    /** The schema, tables, columns and indexes, in order (each statement idempotent). */
    public List<String> ddl() {
        List<String> ddl = new ArrayList<>();
        ddl.add("create schema if not exists " + quote(dataSchema));
        for (Table t : schema.tables().values()) {
            StringBuilder create = new StringBuilder("create table if not exists " + table(t.name()) + " (")
                    .append("id text primary key, ")
                    .append(quote(schema.scopeColumn()))
                    .append(" text not null");
            for (Column c : t.columns().values()) {
                create.append(", ").append(quote(c.name())).append(' ').append(sqlType(c));
            }
            create.append(", _changed_at timestamptz not null, _conflicts integer not null default 0)");
            ddl.add(create.toString());
            for (Column c : t.columns().values()) {
                ddl.add("alter table " + table(t.name()) + " add column if not exists " + quote(c.name()) + " "
                        + sqlType(c));
            }
            ddl.add("create index if not exists " + quote(indexName(t.name(), schema.scopeColumn())) + " on "
                    + table(t.name()) + " (" + quote(schema.scopeColumn()) + ")");
            for (Column c : t.columns().values()) {
                if (c.type() == ColumnType.REF || c.indexed()) {
                    ddl.add("create index if not exists " + quote(indexName(t.name(), c.name())) + " on "
                            + table(t.name()) + " (" + quote(c.name()) + ")");
                }
            }
        }
        return ddl;
    }

    /** The triggers that queue other writers' SQL (after {@link #ddl}). */
    public List<String> triggers() {
        List<String> ddl = new ArrayList<>();
        ddl.add(triggerFunction());
        for (Table t : schema.tables().values()) {
            // One trigger a statement and kind (transition tables allow one event each): a 100,000-row UPDATE
            // queues its rows with one INSERT ... SELECT.
            for (String[] kind : new String[][] {
                {"insert", "new table as n", "I"},
                {"update", "old table as o new table as n", "U"},
                {"delete", "old table as o", "D"}
            }) {
                String name = quote("outpost_sql_" + kind[0]);
                ddl.add("drop trigger if exists " + name + " on " + table(t.name()));
                ddl.add("create trigger " + name + " after " + kind[0] + " on " + table(t.name()) + " referencing "
                        + kind[1] + " for each statement execute function " + quote(dataSchema)
                        + ".outpost_sql_write('" + kind[2] + "', '" + schema.scopeColumn() + "')");
            }
        }
        return ddl;
    }

    /**
     * The function the typed tables' triggers run: a write by the service itself (it sets {@code outpost.applying}
     * in its transaction) passes; any other queues its rows in {@code data_write}. Changing a row's id or scope is
     * refused, the statement failing whole.
     */
    private String triggerFunction() {
        return "create or replace function " + quote(dataSchema) + ".outpost_sql_write() returns trigger"
                + " language plpgsql as $f$\n"
                + "declare kind text := TG_ARGV[0]; scope text := TG_ARGV[1]; renamed bigint; moved bigint;\n"
                + "begin\n"
                + "  if current_setting('outpost.applying', true) = 'on' then return null; end if;\n"
                + "  if kind <> 'D' then\n"
                + "    if exists (select 1 from n where n.id !~ '^[A-Za-z0-9._:-]{1,64}$') then\n"
                + "      raise exception 'outpost: a row id is 1-64 letters, digits, -, _, ., : (table %)',"
                + " TG_TABLE_NAME using errcode = '22023';\n"
                + "    end if;\n"
                + "  end if;\n"
                + "  if kind = 'U' then\n"
                // One pass over a hash join that queues the changed rows and counts the forbidden ones (a failing
                // statement takes the queued rows with it). EXISTS checks here plan as nested loops that stop at
                // the first hit: quadratic when there is none (a 100,000-row UPDATE ran for minutes).
                + "    with j as materialized (select n.id, to_jsonb(n) as nj, to_jsonb(o) as oj"
                + " from n left join o using (id)),\n"
                + "    q as (insert into public.data_write (tbl, id, op, old, new) select TG_TABLE_NAME, id, 'U',"
                + " oj, nj from j where oj is not null and nj <> oj)\n"
                + "    select count(*) filter (where oj is null), count(*) filter (where oj is not null and"
                + " nj->>scope is distinct from oj->>scope) into renamed, moved from j;\n"
                + "    if renamed > 0 then\n"
                + "      raise exception 'outpost: a row''s id never changes (table %); delete it and insert a new"
                + " one', TG_TABLE_NAME using errcode = '22023';\n"
                + "    end if;\n"
                + "    if moved > 0 then\n"
                + "      raise exception 'outpost: a row never changes scope (table %, column %)', TG_TABLE_NAME,"
                + " scope using errcode = '22023';\n"
                + "    end if;\n"
                + "  elsif kind = 'I' then\n"
                + "    insert into public.data_write (tbl, id, op, new) select TG_TABLE_NAME, n.id, 'I', to_jsonb(n)"
                + " from n;\n"
                + "  else\n"
                + "    insert into public.data_write (tbl, id, op, old) select TG_TABLE_NAME, o.id, 'D', to_jsonb(o)"
                + " from o;\n"
                + "  end if;\n"
                + "  return null;\n"
                + "end $f$";
    }

    /** Marks the transaction's typed writes as the service's own, so the triggers do not queue them back. */
    private static Uni<Void> asService(SqlConnection tx) {
        return tx.query("select set_config('outpost.applying', 'on', true)")
                .execute()
                .replaceWithVoid();
    }

    private static Uni<Void> run(SqlConnection tx, List<String> statements, int i) {
        if (i == statements.size()) {
            return Uni.createFrom().voidItem();
        }
        return tx.query(statements.get(i)).execute().flatMap(x -> run(tx, statements, i + 1));
    }

    /** Upserts the live rows and removes the deleted ones, one statement per table and kind, in {@code tx}. */
    public Uni<Void> write(SqlConnection tx, List<TypedRow> rows) {
        Map<String, List<TypedRow>> live = new LinkedHashMap<>();
        Map<String, List<String>> removed = new LinkedHashMap<>();
        for (TypedRow r : rows) {
            if (r.removed()) {
                removed.computeIfAbsent(r.table(), k -> new ArrayList<>()).add(r.id());
            } else {
                live.computeIfAbsent(r.table(), k -> new ArrayList<>()).add(r);
            }
        }
        Uni<Void> chain = rows.isEmpty() ? Uni.createFrom().voidItem() : asService(tx);
        for (var e : live.entrySet()) {
            chain = chain.flatMap(x -> upsertRows(tx, e.getKey(), e.getValue()));
        }
        for (var e : removed.entrySet()) {
            chain = chain.flatMap(x -> tx.preparedQuery(deletes.get(e.getKey()))
                    .execute(Tuple.of(e.getValue().toArray(String[]::new)))
                    .replaceWithVoid());
        }
        return chain;
    }

    private Uni<Void> upsertRows(SqlConnection tx, String tableName, List<TypedRow> rows) {
        // In id order, so that two transactions upserting the same rows wait rather than deadlock.
        List<TypedRow> sorted = rows.stream()
                .sorted(java.util.Comparator.comparing(TypedRow::id))
                .toList();
        Table t = schema.table(tableName);
        Tuple args = Tuple.tuple()
                .addArrayOfString(sorted.stream().map(TypedRow::id).toArray(String[]::new))
                .addArrayOfString(sorted.stream().map(TypedRow::scope).toArray(String[]::new));
        for (int i = 0; i < t.columns().size(); i++) {
            int k = i;
            args.addArrayOfString(sorted.stream().map(r -> r.values().get(k)).toArray(String[]::new));
        }
        args.addArrayOfInteger(sorted.stream().map(TypedRow::conflicts).toArray(Integer[]::new));
        return tx.preparedQuery(upserts.get(tableName)).execute(args).replaceWithVoid();
    }

    /**
     * The upsert of a table's typed rows: parameters id[], scope[], one text[] per field (schema order), conflicts
     * int[], as PostgreSQL's {@code $n} (benchmarks run it over JDBC too).
     */
    public String upsertSql(String table) {
        return upserts.get(table);
    }

    /** {@code insert ... select from unnest(text arrays) ... on conflict (id) do update}, one per table. */
    private String upsert(Table t) {
        List<Column> columns = List.copyOf(t.columns().values());
        StringBuilder names = new StringBuilder("id, ").append(quote(schema.scopeColumn()));
        StringBuilder selects = new StringBuilder("u.id, u.scope");
        StringBuilder arrays = new StringBuilder("$1::text[], $2::text[]");
        StringBuilder aliases = new StringBuilder("id, scope");
        StringBuilder updates = new StringBuilder(quote(schema.scopeColumn()))
                .append(" = excluded.")
                .append(quote(schema.scopeColumn()));
        for (int i = 0; i < columns.size(); i++) {
            Column c = columns.get(i);
            names.append(", ").append(quote(c.name()));
            selects.append(", ").append(cast(c, "u.c" + i));
            arrays.append(", $").append(i + 3).append("::text[]");
            aliases.append(", c").append(i);
            updates.append(", ").append(quote(c.name())).append(" = excluded.").append(quote(c.name()));
        }
        names.append(", _changed_at, _conflicts");
        selects.append(", now(), u.oc");
        arrays.append(", $").append(columns.size() + 3).append("::int[]");
        aliases.append(", oc");
        updates.append(", _changed_at = excluded._changed_at, _conflicts = excluded._conflicts");
        return "insert into " + table(t.name()) + " (" + names + ") select " + selects + " from unnest(" + arrays
                + ") as u(" + aliases + ") on conflict (id) do update set " + updates;
    }

    /**
     * Makes the tables again from the row states, in one transaction: emptied, then every live row written as the
     * merge path writes it (its last change time from {@code row_state.updated_at}). Returns the rows written.
     */
    public Uni<Long> rebuild(Pool pool) {
        return ensure(pool)
                .flatMap(x -> pool.withTransaction(tx -> {
                    Uni<Long> chain = asService(tx).replaceWith(0L);
                    for (Table t : schema.tables().values()) {
                        chain = chain.flatMap(n -> tx.query("truncate " + table(t.name()))
                                .execute()
                                .flatMap(y -> rebuildTable(tx, t, "", n)));
                    }
                    return chain;
                }));
    }

    private Uni<Long> rebuildTable(SqlConnection tx, Table t, String afterId, long written) {
        return tx.preparedQuery("select id, scope, state, open_conflicts, updated_at from row_state"
                        + " where tbl = $1 and not deleted and id > $2 order by id limit " + REBUILD_PAGE)
                .execute(Tuple.of(t.name(), afterId))
                .flatMap(rows -> {
                    if (rows.size() == 0) {
                        return Uni.createFrom().item(written);
                    }
                    List<TypedRow> page = new ArrayList<>(rows.size());
                    List<java.time.OffsetDateTime> changed = new ArrayList<>(rows.size());
                    String last = afterId;
                    for (Row r : rows) {
                        RowState state = codec.decode(
                                t.name(),
                                r.getString("id"),
                                r.getString("scope"),
                                r.getBuffer("state").getBytes());
                        page.add(row(state, false, r.getInteger("open_conflicts")));
                        changed.add(r.getOffsetDateTime("updated_at"));
                        last = r.getString("id");
                    }
                    String next = last;
                    return upsertRows(tx, t.name(), page)
                            .flatMap(x -> tx.preparedQuery("update " + table(t.name())
                                            + " d set _changed_at = u.at from unnest($1::text[],"
                                            + " $2::timestamptz[]) as u(id, at) where d.id = u.id")
                                    .execute(Tuple.of(
                                            page.stream().map(TypedRow::id).toArray(String[]::new),
                                            changed.toArray(java.time.OffsetDateTime[]::new))))
                            .flatMap(x -> rows.size() < REBUILD_PAGE
                                    ? Uni.createFrom().item(written + rows.size())
                                    : rebuildTable(tx, t, next, written + rows.size()));
                });
    }

    /** The qualified, quoted name of a table's typed table. */
    public String table(String name) {
        return quote(dataSchema) + "." + quote(name);
    }

    /**
     * An index's name: {@code TABLE_COLUMN_idx}, or when that would pass PostgreSQL's 63 bytes (which it would cut
     * silently, so two long names could meet), its first 50 characters and a hash of the whole.
     */
    static String indexName(String table, String column) {
        String plain = table + "_" + column + "_idx";
        if (plain.length() <= 63) {
            return plain;
        }
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(plain.getBytes(StandardCharsets.UTF_8));
            return plain.substring(0, 50) + "_" + HexFormat.of().formatHex(hash, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A quoted SQL identifier (the schema's names are lower-case letters, digits and '_', keywords included). */
    public static String quote(String name) {
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }
}
