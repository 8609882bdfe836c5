package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.store.RowStore;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** {@link RowStore} over the tables {@code row_state} and {@code row_base}. */
public final class SqliteRows implements RowStore {
    private final SqliteDatabase db;

    public SqliteRows(SqliteDatabase db) {
        this.db = db;
    }

    @Override
    public Optional<StoredRow> getRow(String table, String id) {
        return sql(() -> {
            try (var ps = db.prepared("select scope, state, deleted from row_state where tbl = ? and id = ?")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    return rs.next()
                            ? Optional.of(new StoredRow(table, id, rs.getString(1), rs.getBytes(2), rs.getInt(3) != 0))
                            : Optional.empty();
                }
            }
        });
    }

    @Override
    public void putRow(String table, String id, String scope, byte[] state, boolean deleted, int conflicts) {
        sql(() -> {
            try (var ps = db.prepared(
                    "insert into row_state (tbl, id, scope, state, deleted, conflicts) values (?, ?, ?, ?, ?, ?) "
                            + "on conflict (tbl, id) do update set state = excluded.state, deleted = excluded.deleted, "
                            + "conflicts = excluded.conflicts")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                ps.statement().setString(3, scope);
                ps.statement().setBytes(4, state);
                ps.statement().setInt(5, deleted ? 1 : 0);
                ps.statement().setInt(6, conflicts);
                return ps.statement().executeUpdate();
            }
        });
    }

    /** {@link #insertAll}'s statement: the rows of one {@link RowBatch}, its only parameter. */
    private static final String INSERT_ALL = "insert into row_state (tbl, id, scope, state, deleted, conflicts) "
            + RowBatch.select(6)
            + " on conflict (tbl, id) do update set state = excluded.state, deleted = excluded.deleted,"
            + " conflicts = excluded.conflicts";

    @Override
    public void insertAll(List<NewRow> rows) {
        if (rows.isEmpty()) {
            return;
        }
        // One bound value for the whole batch: a JNI call a value cost as much as SQLite's own work.
        RowBatch batch = new RowBatch(6, rows.size() * 320);
        for (NewRow r : rows) {
            batch.add(r.table())
                    .add(r.id())
                    .add(r.scope())
                    .add(r.state())
                    .add(r.deleted() ? 1 : 0)
                    .add(r.conflicts());
        }
        db.saveBatch(INSERT_ALL, batch);
    }

    @Override
    public void deleteRow(String table, String id) {
        sql(() -> {
            try (var ps = db.prepared("delete from row_state where tbl = ? and id = ?")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                return ps.statement().executeUpdate();
            }
        });
    }

    @Override
    public List<StoredRow> findRows(String table, boolean withDeleted) {
        return sql(() -> {
            List<StoredRow> out = new ArrayList<>();
            try (var ps = db.prepared("select id, scope, state, deleted from row_state where tbl = ?"
                    + (withDeleted ? "" : " and deleted = 0") + " order by id")) {
                ps.statement().setString(1, table);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    while (rs.next()) {
                        out.add(new StoredRow(
                                table, rs.getString(1), rs.getString(2), rs.getBytes(3), rs.getInt(4) != 0));
                    }
                }
            }
            return out;
        });
    }

    @Override
    public List<StoredRow> findRowsWithConflicts() {
        return sql(() -> {
            List<StoredRow> out = new ArrayList<>();
            try (var ps = db.prepared(
                            "select tbl, id, scope, state, deleted from row_state where conflicts > 0 order by tbl, id");
                    ResultSet rs = ps.statement().executeQuery()) {
                while (rs.next()) {
                    out.add(new StoredRow(
                            rs.getString(1), rs.getString(2), rs.getString(3), rs.getBytes(4), rs.getInt(5) != 0));
                }
            }
            return out;
        });
    }

    @Override
    public Optional<Optional<String>> getBase(String table, String id) {
        return sql(() -> {
            try (var ps = db.prepared("select state from row_base where tbl = ? and id = ?")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    return rs.next() ? Optional.of(Optional.ofNullable(rs.getString(1))) : Optional.empty();
                }
            }
        });
    }

    @Override
    public void putBase(String table, String id, String state) {
        sql(() -> {
            try (var ps = db.prepared("insert into row_base (tbl, id, state) values (?, ?, ?)"
                    + " on conflict (tbl, id) do update set state = excluded.state")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                ps.statement().setString(3, state);
                return ps.statement().executeUpdate();
            }
        });
    }

    @Override
    public boolean hasBases() {
        return sql(() -> {
            try (var ps = db.prepared("select exists (select 1 from row_base)");
                    ResultSet rs = ps.statement().executeQuery()) {
                return rs.next() && rs.getInt(1) != 0;
            }
        });
    }

    @Override
    public List<RowKey> findBases() {
        return sql(() -> {
            List<RowKey> out = new ArrayList<>();
            try (var ps = db.prepared("select tbl, id from row_base order by tbl, id");
                    ResultSet rs = ps.statement().executeQuery()) {
                while (rs.next()) {
                    out.add(new RowKey(rs.getString(1), rs.getString(2)));
                }
            }
            return out;
        });
    }

    @Override
    public void deleteBase(String table, String id) {
        sql(() -> {
            try (var ps = db.prepared("delete from row_base where tbl = ? and id = ?")) {
                ps.statement().setString(1, table);
                ps.statement().setString(2, id);
                return ps.statement().executeUpdate();
            }
        });
    }
}
