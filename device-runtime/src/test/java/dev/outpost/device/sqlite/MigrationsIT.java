package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.device.store.ModelState;
import dev.outpost.device.store.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The numbered migrations open every shipped layout (src/test/fixtures: home-v1 from the first release, home-v2 from
 * before numbered migrations) and bring it to the latest, keeping what it held; a newer layout is refused untouched.
 */
class MigrationsIT {
    @TempDir
    Path dir;

    @Test
    void theFirstReleasesHomeMigratesWithItsPendingChanges() throws Exception {
        Path db = copy("home-v1");
        try (SqliteDatabase opened = SqliteDatabase.open(db)) {
            SqliteChangeLog log = new SqliteChangeLog(opened);
            assertEquals(6L, opened.inTransaction(log::countPending));
            assertEquals(
                    "old-home",
                    opened.inTransaction(() -> new SqliteSettings(opened).get(Settings.Setting.DEVICE_ID))
                            .orElseThrow());
        }
        assertEquals(Migrations.LATEST, userVersion(db));
    }

    @Test
    void aHomeFromBeforeNumberedMigrationsMovesItsModelStateOutOfSettings() throws Exception {
        Path db = copy("home-v2");
        try (SqliteDatabase opened = SqliteDatabase.open(db)) {
            SqliteModelState models = new SqliteModelState(opened);
            ModelState.ArtifactState crop = opened.inTransaction(() -> models.get("crop-disease"));
            assertEquals(3L, crop.highestVersion());
            assertEquals(1796087314000L, crop.highestIssuedAtMs());
            assertEquals(4L, crop.failedVersion());
            assertNull(crop.holdVersion());
            assertEquals("installed version 3", crop.lastOutcome());
            assertEquals(List.of("crop-disease"), opened.inTransaction(models::findArtifacts));
            // The signing key is a setting of the device, not of an artifact: it stays.
            assertTrue(opened.inTransaction(() -> new SqliteSettings(opened).get(Settings.Setting.MODEL_SIGNING_KEY))
                    .isPresent());
            assertEquals(1L, opened.inTransaction(() -> new SqliteReports(opened).count()));

            SqliteChangeLog log = new SqliteChangeLog(opened);
            assertEquals(6L, opened.inTransaction(log::countPending));
            assertEquals(
                    List.of(ChangeLog.SENT, ChangeLog.SENT),
                    opened.inTransaction(() -> log.findSentAndPending().stream()
                            .limit(2)
                            .map(ChangeLog.LoggedChange::status)
                            .toList()));
        }
        assertEquals(Migrations.LATEST, userVersion(db));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("select count(*) from meta where key like 'model.crop-disease.%'")) {
            rs.next();
            assertEquals(0, rs.getInt(1), "moved, not copied");
        }
        // Opened again, nothing runs twice.
        try (SqliteDatabase opened = SqliteDatabase.open(db)) {
            assertEquals(
                    3L,
                    opened.inTransaction(() -> new SqliteModelState(opened).get("crop-disease"))
                            .highestVersion());
        }
    }

    @Test
    void modelStateOfAnArtifactNamedWithDotsIsKeptUnderItsWholeName() throws Exception {
        Path db = copy("home-v2");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                Statement s = c.createStatement()) {
            s.execute("insert into meta values ('model.crop.disease.v2.highest_version', '7')");
        }
        try (SqliteDatabase opened = SqliteDatabase.open(db)) {
            SqliteModelState models = new SqliteModelState(opened);
            assertEquals(
                    7L,
                    opened.inTransaction(() -> models.get("crop.disease.v2")).highestVersion());
            assertEquals(List.of("crop-disease", "crop.disease.v2"), opened.inTransaction(models::findArtifacts));
        }
    }

    @Test
    void aDatabaseFromANewerRuntimeIsRefusedAndLeftAsItIs() throws Exception {
        Path db = copy("home-v2");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                Statement s = c.createStatement()) {
            s.execute("pragma user_version = " + (Migrations.LATEST + 1));
        }
        DeviceException e = assertThrows(DeviceException.class, () -> SqliteDatabase.open(db));
        assertEquals(ExitCode.STORAGE, e.exitCode());
        assertTrue(e.getMessage().contains("newer"), e.getMessage());
        assertEquals(Migrations.LATEST + 1, userVersion(db));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("select count(*) from sqlite_master where name = 'model_artifact'")) {
            rs.next();
            assertEquals(0, rs.getInt(1));
        }
    }

    private Path copy(String fixture) throws Exception {
        Path to = dir.resolve(fixture + ".db");
        Files.copy(Path.of("src/test/fixtures", fixture, "outpost.db"), to);
        return to;
    }

    private static int userVersion(Path db) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("pragma user_version")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
