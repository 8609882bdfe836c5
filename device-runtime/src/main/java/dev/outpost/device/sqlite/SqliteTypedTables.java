package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.store.TypedTables;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@link TypedTables} in the device's SQLite file, beside the internal tables. Queries run on a second connection
 * opened read-only, and only after {@code EXPLAIN} shows that every table or index they open belongs to a typed table.
 */
public final class SqliteTypedTables implements TypedTables {
    /** Names the typed tables cannot take: the internal tables of {@link Migrations}. */
    private static final Set<String> INTERNAL = Set.of(
            "meta",
            "row_state",
            "row_base",
            "change_log",
            "row_feed",
            "model_install",
            "model_install_progress",
            "model_report",
            "model_artifact");

    private final SqliteDatabase db;
    private final String scopeColumn;
    private Connection readOnly;
    /**
     * The upsert statement of each typed table, made once per table as a schema declares it (a schema upgraded in the
     * field brings new tables and columns, and so new statements).
     */
    private final Map<String, Upsert> upserts = new java.util.concurrent.ConcurrentHashMap<>();

    private record Upsert(Table table, String sql) {}

    /** Queries run on a second, read-only connection to {@code db}'s file ({@link SqliteDatabase#openReadOnly}). */
    public SqliteTypedTables(SqliteDatabase db, String scopeColumn) {
        this.db = db;
        this.scopeColumn = scopeColumn;
    }

    static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    /** SQLite's column type for a schema type: affinities that keep values exact and let SQL compare them. */
    private static String sqlType(Column c) {
        return switch (c.type()) {
            case INT, BOOL -> "integer";
            case DECIMAL -> "numeric";
            default -> "text";
        };
    }

    @Override
    public List<String> ensure(Schema schema) {
        return sql(() -> {
            List<String> created = new ArrayList<>();
            Connection c = db.connection();
            try (Statement s = c.createStatement()) {
                for (Table t : schema.tables().values()) {
                    if (INTERNAL.contains(t.name().toLowerCase(Locale.ROOT))) {
                        throw new DeviceException(
                                ExitCode.STORAGE,
                                "the schema's table '" + t.name()
                                        + "' has the name of one of this device's own tables");
                    }
                    Set<String> have = columns(c, t.name());
                    if (have.isEmpty()) {
                        StringBuilder ddl = new StringBuilder("create table " + quote(t.name()) + " (");
                        ddl.append(quote("id")).append(" text primary key, ");
                        ddl.append(quote(schema.scopeColumn())).append(" text not null");
                        for (Column col : t.columns().values()) {
                            ddl.append(", ")
                                    .append(quote(col.name()))
                                    .append(' ')
                                    .append(sqlType(col));
                        }
                        // Without rowid: the row lives in the id's b-tree, so a write touches one page, not two.
                        ddl.append(", ").append(quote("_conflicts")).append(" integer not null default 0)");
                        ddl.append(" without rowid");
                        s.execute(ddl.toString());
                        created.add(t.name());
                    } else {
                        for (Column col : t.columns().values()) {
                            if (!have.contains(col.name())) {
                                s.execute("alter table " + quote(t.name()) + " add column " + quote(col.name()) + " "
                                        + sqlType(col));
                            }
                        }
                    }
                    for (Column col : t.columns().values()) {
                        if (indexed(col)) {
                            index(s, t.name(), col.name());
                        } else {
                            // The schema no longer marks it: the index goes, and writes stop paying for it.
                            s.execute("drop index if exists " + quote(t.name() + "_" + col.name()));
                        }
                    }
                }
            }
            return created;
        });
    }

    @Override
    public void dropIndexes(Schema schema) {
        sql(() -> {
            try (Statement s = db.connection().createStatement()) {
                for (Table t : schema.tables().values()) {
                    for (Column col : t.columns().values()) {
                        s.execute("drop index if exists " + quote(t.name() + "_" + col.name()));
                    }
                }
            }
            return null;
        });
    }

    /** Whether the typed table indexes the column: every ref, and what the schema marks. */
    private static boolean indexed(Column c) {
        return c.type() == ColumnType.REF || c.indexed();
    }

    private static void index(Statement s, String table, String column) throws SQLException {
        s.execute("create index if not exists " + quote(table + "_" + column) + " on " + quote(table) + " ("
                + quote(column) + ")");
    }

    private static Set<String> columns(Connection c, String table) throws SQLException {
        Set<String> out = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("select name from pragma_table_info(?)")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    @Override
    public void put(Table table, String id, String scope, List<Object> values, int conflicts) {
        upsert(table, id, scope, values, conflicts, -1L);
        sql(() -> {
            // Indexed columns are set apart, and only when they change: an UPDATE rewrites the index of every
            // column it sets, whatever the value, and each page a local write dirties is synced with it.
            int k = 0;
            for (Column c : table.columns().values()) {
                if (indexed(c)) {
                    try (var ps = db.prepared("update " + quote(table.name()) + " set " + quote(c.name())
                            + " = ? where " + quote("id") + " = ? and " + quote(c.name()) + " is not ?")) {
                        ps.statement().setObject(1, values.get(k));
                        ps.statement().setString(2, id);
                        ps.statement().setObject(3, values.get(k));
                        ps.statement().executeUpdate();
                    }
                }
                k++;
            }
            return null;
        });
    }

    @Override
    public void put(Table table, String id, String scope, List<Object> values, int conflicts, List<Object> before) {
        if (table.columns().size() > 62) {
            put(table, id, scope, values, conflicts);
            return;
        }
        // One statement: the upsert sets the indexed columns whose value changed, and no other.
        long changed = 0;
        int k = 0;
        for (Column c : table.columns().values()) {
            if (indexed(c) && !java.util.Objects.equals(values.get(k), before.get(k))) {
                changed |= 1L << k;
            }
            k++;
        }
        upsert(table, id, scope, values, conflicts, changed);
    }

    /**
     * Runs the table's upsert that also sets the indexed columns in {@code indexedSet} (bit k: the k-th column); -1
     * sets none of them (they are set apart).
     */
    private void upsert(Table table, String id, String scope, List<Object> values, int conflicts, long indexedSet) {
        String sqlText = upsertSql(table, indexedSet, false);
        sql(() -> {
            try (var ps = db.prepared(sqlText)) {
                PreparedStatement st = ps.statement();
                int i = 1;
                st.setString(i++, id);
                st.setString(i++, scope);
                for (Object v : values) {
                    st.setObject(i++, v);
                }
                st.setInt(i, conflicts);
                return st.executeUpdate();
            }
        });
    }

    /**
     * The upsert of a typed table: a new row with every column; an existing one updated in its unindexed columns and
     * the indexed ones in {@code indexedSet} (an upsert, not "insert or replace", which deletes and inserts and so
     * rewrites every index).
     */
    private String upsertSql(Table table, long indexedSet, boolean batch) {
        // Made once per table, set of indexed columns and form.
        String key = table.name() + "/" + indexedSet + "/" + batch;
        Upsert made = upserts.get(key);
        if (made == null || made.table() != table) {
            made = new Upsert(table, upsert(table, indexedSet, batch));
            upserts.put(key, made);
        }
        return made.sql();
    }

    /** The text of {@link #upsertSql}: one row's values bound, or the rows of a {@link RowBatch}, its only parameter. */
    private String upsert(Table table, long indexedSet, boolean batch) {
        String tuple = "(?, ?" + ", ?".repeat(table.columns().size()) + ", ?)";
        StringBuilder b = new StringBuilder("insert into " + quote(table.name()) + " (");
        b.append(quote("id")).append(", ").append(quote(scopeColumn));
        for (Column c : table.columns().values()) {
            b.append(", ").append(quote(c.name()));
        }
        b.append(", ").append(quote("_conflicts")).append(") ");
        b.append(batch ? RowBatch.select(table.columns().size() + 3) : "values " + tuple);
        b.append(" on conflict (").append(quote("id")).append(") do update set ");
        b.append(quote(scopeColumn)).append(" = excluded.").append(quote(scopeColumn));
        int k = 0;
        for (Column c : table.columns().values()) {
            if (!indexed(c) || (indexedSet > 0 && (indexedSet & (1L << k)) != 0)) {
                b.append(", ").append(quote(c.name())).append(" = excluded.").append(quote(c.name()));
            }
            k++;
        }
        b.append(", ").append(quote("_conflicts")).append(" = excluded.").append(quote("_conflicts"));
        return b.toString();
    }

    @Override
    public void insertAll(Table table, List<NewRow> rows) {
        int values = table.columns().size() + 3;
        if (values > RowBatch.COLUMNS_MAX) {
            for (NewRow r : rows) {
                put(table, r.id(), r.scope(), r.values(), r.conflicts());
            }
            return;
        }
        if (rows.isEmpty()) {
            return;
        }
        // One bound value for the whole batch (RowBatch): a JNI call a value cost as much as SQLite's own work.
        RowBatch batch = new RowBatch(values, rows.size() * 16 * values);
        for (NewRow r : rows) {
            batch.add(r.id()).add(r.scope());
            for (Object v : r.values()) {
                batch.addObject(v);
            }
            batch.add(r.conflicts());
        }
        db.saveBatch(upsertSql(table, Long.MAX_VALUE, true), batch);
    }

    @Override
    public void delete(String table, String id) {
        sql(() -> {
            try (var ps = db.prepared("delete from " + quote(table) + " where " + quote("id") + " = ?")) {
                ps.statement().setString(1, id);
                return ps.statement().executeUpdate();
            }
        });
    }

    @Override
    public List<String> findIds(
            String table, Map<String, Object> where, String order, boolean desc, int limit, String afterId) {
        return sql(() -> {
            StringBuilder q = new StringBuilder("select " + quote("id") + " from " + quote(table) + " where 1 = 1");
            List<Object> args = new ArrayList<>();
            for (Map.Entry<String, Object> w : where.entrySet()) {
                q.append(" and ").append(quote(w.getKey())).append(" = ?");
                args.add(w.getValue());
            }
            String o = quote(order);
            String id = quote("id");
            String cmp = desc ? "<" : ">";
            boolean byId = order.equals("id");
            if (afterId != null) {
                Object[] after = afterRow(table, order, afterId);
                if (byId) {
                    q.append(" and ").append(id).append(' ').append(cmp).append(" ?");
                    args.add(afterId);
                } else if (after[0] == null) {
                    q.append(" and ")
                            .append(o)
                            .append(" is null and ")
                            .append(id)
                            .append(' ')
                            .append(cmp)
                            .append(" ?");
                    args.add(afterId);
                } else {
                    q.append(" and (")
                            .append(o)
                            .append(" is null or ")
                            .append(o)
                            .append(' ')
                            .append(cmp)
                            .append(" ? or (")
                            .append(o)
                            .append(" = ? and ")
                            .append(id)
                            .append(' ')
                            .append(cmp)
                            .append(" ?))");
                    args.add(after[0]);
                    args.add(after[0]);
                    args.add(afterId);
                }
            }
            String dir = desc ? " desc" : "";
            q.append(" order by ");
            if (!byId) {
                q.append(o).append(" is null, ").append(o).append(dir).append(", ");
            }
            q.append(id).append(dir).append(" limit ?");
            args.add(limit);
            List<String> out = new ArrayList<>();
            try (PreparedStatement ps = db.connection().prepareStatement(q.toString())) {
                for (int i = 0; i < args.size(); i++) {
                    ps.setObject(i + 1, args.get(i));
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getString(1));
                    }
                }
            }
            return out;
        });
    }

    /** The {@code order} value of the row to continue after; exit code 2 when there is no such live row. */
    private Object[] afterRow(String table, String order, String afterId) throws SQLException {
        try (PreparedStatement ps = db.connection()
                .prepareStatement(
                        "select " + quote(order) + " from " + quote(table) + " where " + quote("id") + " = ?")) {
            ps.setString(1, afterId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new DeviceException(
                            ExitCode.BAD_INPUT, "no " + table + "/" + afterId + " to continue after (--after)");
                }
                return new Object[] {rs.getObject(1)};
            }
        }
    }

    @Override
    public List<Map<String, Object>> query(Schema schema, String text, List<String> params, int rowsMax) {
        String statement = text.strip();
        if (statement.endsWith(";")) {
            statement = statement.substring(0, statement.length() - 1).strip();
        }
        String head = statement.length() >= 6 ? statement.substring(0, 6).toLowerCase(Locale.ROOT) : "";
        if (!(head.startsWith("select") || head.startsWith("with"))) {
            throw refused("only one SELECT (or WITH ... SELECT) is run here");
        }
        if (statement.indexOf(';') >= 0) {
            throw refused("one statement at a time");
        }
        String checked = statement;
        return sql(() -> {
            Connection c = readOnly();
            Set<Integer> allowed = rootPages(c, schema);
            try (PreparedStatement explain = c.prepareStatement("explain " + checked)) {
                bind(explain, params);
                try (ResultSet rs = explain.executeQuery()) {
                    while (rs.next()) {
                        String op = rs.getString("opcode");
                        if ((op.startsWith("Open")
                                        && !op.equals("OpenEphemeral")
                                        && !op.equals("OpenAutoindex")
                                        && !op.equals("OpenPseudo"))
                                || op.equals("ReopenIdx")) {
                            if (!allowed.contains(rs.getInt("p2"))) {
                                throw refused("a query may read the typed tables ("
                                        + String.join(", ", schema.tables().keySet()) + ") and nothing else");
                            }
                        }
                    }
                }
            } catch (SQLException e) {
                throw refused("the query is not valid SQL here: " + e.getMessage());
            }
            List<Map<String, Object>> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(checked)) {
                bind(ps, params);
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData md = rs.getMetaData();
                    while (rs.next()) {
                        if (out.size() == rowsMax) {
                            throw refused("the query answers more than " + rowsMax + " rows: add a LIMIT");
                        }
                        Map<String, Object> row = new LinkedHashMap<>();
                        for (int i = 1; i <= md.getColumnCount(); i++) {
                            row.put(md.getColumnLabel(i), rs.getObject(i));
                        }
                        out.add(row);
                    }
                }
            } catch (SQLException e) {
                throw refused("the query failed: " + e.getMessage());
            }
            return out;
        });
    }

    private static void bind(PreparedStatement ps, List<String> params) throws SQLException {
        int wanted = ps.getParameterMetaData().getParameterCount();
        if (wanted != params.size()) {
            throw refused("the query takes " + wanted + " parameter(s), " + params.size() + " given");
        }
        for (int i = 0; i < params.size(); i++) {
            ps.setString(i + 1, params.get(i));
        }
    }

    /** Root pages of the typed tables and their indexes: what a query may open. */
    private static Set<Integer> rootPages(Connection c, Schema schema) throws SQLException {
        Set<Integer> out = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("select name, tbl_name, rootpage from sqlite_schema"
                        + " where type in ('table', 'index') and rootpage > 0");
                ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                if (schema.tables().containsKey(rs.getString(2))) {
                    out.add(rs.getInt(3));
                }
            }
        }
        return out;
    }

    private Connection readOnly() throws SQLException {
        if (readOnly == null) {
            readOnly = db.openReadOnly();
        }
        return readOnly;
    }

    /** Closes the read-only connection, if one was opened. */
    public void close() {
        if (readOnly != null) {
            sql(() -> {
                readOnly.close();
                return null;
            });
        }
    }

    private static DeviceException refused(String message) {
        return new DeviceException(ExitCode.BAD_INPUT, "query refused: " + message);
    }
}
