package dev.outpost.model.schema;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A validated sync schema: tables, typed columns with merge policies, references, and the scope column every row
 * carries. Built by {@link SchemaLoader}; immutable.
 */
public final class Schema {
    private final int version;
    private final String scopeColumn;
    private final Map<String, Table> tables;
    private final List<String> parentFirstOrder;

    Schema(int version, String scopeColumn, Map<String, Table> tables) {
        this.version = version;
        this.scopeColumn = scopeColumn;
        this.tables = Collections.unmodifiableMap(new LinkedHashMap<>(tables));
        this.parentFirstOrder = List.copyOf(parentFirst(this.tables));
    }

    public int version() {
        return version;
    }

    /** The column that decides which devices see a row, e.g. {@code district}. */
    public String scopeColumn() {
        return scopeColumn;
    }

    public Map<String, Table> tables() {
        return tables;
    }

    public Optional<Table> getTable(String name) {
        return Optional.ofNullable(tables.get(name));
    }

    /** The table, or {@link ErrorCode#UNKNOWN_TABLE}. */
    public Table table(String name) {
        Table t = tables.get(name);
        if (t == null) {
            throw new OutpostException(ErrorCode.UNKNOWN_TABLE, "unknown table '" + name + "'");
        }
        return t;
    }

    /** The column, or {@link ErrorCode#UNKNOWN_FIELD}. */
    public Column column(String table, String field) {
        return table(table)
                .getColumn(field)
                .orElseThrow(() ->
                        new OutpostException(ErrorCode.UNKNOWN_FIELD, "unknown field '" + table + "." + field + "'"));
    }

    /**
     * Table names with every referenced table before the tables that reference it. Members of a reference cycle
     * (including self-references) keep their declaration order.
     */
    public List<String> parentFirstOrder() {
        return parentFirstOrder;
    }

    /**
     * Whether a device on {@code older} can keep syncing with this schema: every table and column of {@code older}
     * exists here with the same type, merge policy and reference. New tables and columns are additive and fine, and so
     * is an index added or dropped.
     * Returns the incompatibilities, empty when compatible.
     */
    public List<String> incompatibilitiesWith(Schema older) {
        List<String> problems = new ArrayList<>();
        if (!older.scopeColumn.equals(scopeColumn)) {
            problems.add("scope column changed from '" + older.scopeColumn + "' to '" + scopeColumn + "'");
        }
        for (Table old : older.tables.values()) {
            Table now = tables.get(old.name());
            if (now == null) {
                problems.add("table '" + old.name() + "' was removed");
                continue;
            }
            for (Column oldColumn : old.columns().values()) {
                Column c = now.columns().get(oldColumn.name());
                if (c == null) {
                    problems.add("column '" + old.name() + "." + oldColumn.name() + "' was removed");
                } else if (!c.mergesLike(oldColumn)) {
                    problems.add("column '" + old.name() + "." + oldColumn.name() + "' changed type or merge policy");
                }
            }
        }
        return problems;
    }

    private static List<String> parentFirst(Map<String, Table> tables) {
        Set<String> done = new LinkedHashSet<>();
        Set<String> visiting = new LinkedHashSet<>();
        for (String name : tables.keySet()) {
            visit(name, tables, done, visiting);
        }
        return new ArrayList<>(done);
    }

    private static void visit(String name, Map<String, Table> tables, Set<String> done, Set<String> visiting) {
        if (done.contains(name) || !visiting.add(name)) {
            return; // finished, or a cycle: keep declaration order for its members
        }
        for (Column c : tables.get(name).columns().values()) {
            if (c.type() == ColumnType.REF) {
                visit(c.refTable(), tables, done, visiting);
            }
        }
        visiting.remove(name);
        done.add(name);
    }
}
