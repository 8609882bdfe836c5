package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.store.ReportStore;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;

/** {@link ReportStore} over {@code model_report}; the dropped count is the meta key {@code reports_dropped}. */
public final class SqliteReports implements ReportStore {
    private static final String DROPPED = "reports_dropped";

    private final SqliteDatabase db;

    public SqliteReports(SqliteDatabase db) {
        this.db = db;
    }

    @Override
    public void queue(String body) {
        sql(() -> {
            try (var ps = db.prepared("insert into model_report (body) values (?)")) {
                ps.statement().setString(1, body);
                ps.statement().executeUpdate();
            }
            long over = count() - REPORTS_MAX;
            if (over > 0) {
                try (var ps = db.prepared(
                        "delete from model_report where id in (select id from model_report order by id limit ?)")) {
                    ps.statement().setLong(1, over);
                    ps.statement().executeUpdate();
                }
                addDropped(over);
            }
            return null;
        });
    }

    @Override
    public List<QueuedReport> findOldest(int limit) {
        return sql(() -> {
            List<QueuedReport> out = new ArrayList<>();
            try (var ps = db.prepared("select id, body from model_report order by id limit ?")) {
                ps.statement().setInt(1, limit);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    while (rs.next()) {
                        out.add(new QueuedReport(rs.getLong(1), rs.getString(2)));
                    }
                }
            }
            return out;
        });
    }

    @Override
    public long count() {
        return sql(() -> {
            try (var ps = db.prepared("select count(*) from model_report");
                    ResultSet rs = ps.statement().executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        });
    }

    @Override
    public long dropped() {
        return SqliteSettings.get(db, DROPPED).map(Long::parseLong).orElse(0L);
    }

    @Override
    public void delete(long id, boolean refused) {
        int deleted = sql(() -> {
            try (var ps = db.prepared("delete from model_report where id = ?")) {
                ps.statement().setLong(1, id);
                return ps.statement().executeUpdate();
            }
        });
        if (refused && deleted > 0) {
            addDropped(1);
        }
    }

    private void addDropped(long n) {
        SqliteSettings.put(db, DROPPED, Long.toString(dropped() + n));
    }
}
