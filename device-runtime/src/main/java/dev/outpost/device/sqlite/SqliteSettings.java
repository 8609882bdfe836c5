package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.store.Settings;
import java.sql.ResultSet;
import java.util.Optional;

/** {@link Settings} over the key-value table {@code meta}. */
public final class SqliteSettings implements Settings {
    private final SqliteDatabase db;

    public SqliteSettings(SqliteDatabase db) {
        this.db = db;
    }

    @Override
    public Optional<String> get(Setting setting) {
        return get(db, setting.key);
    }

    @Override
    public void put(Setting setting, String value) {
        put(db, setting.key, value);
    }

    static Optional<String> get(SqliteDatabase db, String key) {
        Optional<String> cached = db.cachedMeta(key);
        if (cached != null) {
            return cached;
        }
        Optional<String> read = sql(() -> {
            try (var ps = db.prepared("select value from meta where key = ?")) {
                ps.statement().setString(1, key);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
                }
            }
        });
        db.cacheMeta(key, read);
        return read;
    }

    static void put(SqliteDatabase db, String key, String value) {
        sql(() -> {
            try (var ps = db.prepared("insert into meta (key, value) values (?, ?)"
                    + " on conflict (key) do update set value = excluded.value")) {
                ps.statement().setString(1, key);
                ps.statement().setString(2, value);
                return ps.statement().executeUpdate();
            }
        });
        db.cacheMeta(key, Optional.of(value));
    }
}
