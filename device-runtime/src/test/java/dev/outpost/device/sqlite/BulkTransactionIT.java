package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bulk transaction on a real SQLite file: committed whole or rolled back whole, in rollback-journal mode when the
 * connection has the file to itself and in WAL mode when another holds it, and in WAL mode again after either way.
 */
class BulkTransactionIT {
    @TempDir
    Path dir;

    private static final byte[] STATE = "{\"fields\":{}}".getBytes(java.nio.charset.StandardCharsets.UTF_8);

    private static long rows(SqliteDatabase db) {
        return db.inTransaction(
                () -> new SqliteRows(db).findRows("farmer", true).size());
    }

    private static String journal(SqliteDatabase db) {
        return SqliteDatabase.sql(() -> {
            try (Statement s = db.connection().createStatement();
                    ResultSet rs = s.executeQuery("pragma journal_mode")) {
                rs.next();
                return rs.getString(1);
            }
        });
    }

    private static void put(SqliteDatabase db, int from, int to) {
        SqliteRows rows = new SqliteRows(db);
        for (int i = from; i < to; i++) {
            rows.putRow("farmer", "f" + i, "nakuru", STATE, false, 0);
        }
    }

    @Test
    void itCommitsWholeOrNotAtAllAndLeavesTheFileInWalMode() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("bulk.db"))) {
            db.run(() -> put(db, 0, 10));
            db.inBulkTransaction(() -> {
                put(db, 10, 5_000);
                assertEquals("delete", journal(db), "the connection had the file to itself");
                return null;
            });
            assertEquals("wal", journal(db));
            assertEquals(5_000, rows(db));

            assertThrows(
                    IllegalStateException.class,
                    () -> db.inBulkTransaction(() -> {
                        put(db, 5_000, 9_000);
                        throw new IllegalStateException("the install failed half way");
                    }));
            assertEquals("wal", journal(db));
            assertEquals(5_000, rows(db), "nothing of the failed transaction stays");
        }
        try (SqliteDatabase again = SqliteDatabase.open(dir.resolve("bulk.db"))) {
            assertEquals(5_000, rows(again));
        }
    }

    @Test
    void withAnotherConnectionOnTheFileItRunsInWalMode() throws Exception {
        Path file = dir.resolve("shared.db");
        try (SqliteDatabase db = SqliteDatabase.open(file);
                var other = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            try (Statement s = other.createStatement();
                    ResultSet rs = s.executeQuery("select count(*) from row_state")) {
                rs.next(); // the other connection has read in WAL mode and stays open
            }
            db.inBulkTransaction(() -> {
                put(db, 0, 100);
                assertEquals("wal", journal(db));
                return null;
            });
            try (Statement s = other.createStatement();
                    ResultSet rs = s.executeQuery("select count(*) from row_state")) {
                rs.next();
                assertEquals(100, rs.getInt(1), "the other connection sees the committed rows");
            }
        }
    }
}
