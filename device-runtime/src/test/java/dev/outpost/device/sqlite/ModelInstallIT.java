package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.model.install.InstallState;
import dev.outpost.device.model.install.ModelInstall;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An install's record and its progress on a real SQLite file: progress is saved apart from the record (whose signed
 * documents can be hundreds of KB), read back merged with it as the typed state it was saved in, reset by a new record
 * and gone with the install; a phase this runtime does not know is a storage error, not a guess.
 */
class ModelInstallIT {
    @TempDir
    Path dir;

    @Test
    void progressIsSavedApartFromTheRecordAndReadBackWithIt() {
        byte[] manifest = new byte[300_000];
        manifest[123] = 7;
        ModelInstall install = new ModelInstall(
                "weights", 2, 1L, new byte[] {1}, manifest, new byte[] {3}, "b", InstallState.Downloading.START, 0);
        Path file = dir.resolve("device.db");
        try (SqliteDatabase db = SqliteDatabase.open(file)) {
            SqliteModelState store = new SqliteModelState(db);
            db.run(() -> store.saveInstall(install));
            db.run(() -> store.saveInstallProgress(install.in(InstallState.Downloading.START.at(40), 5_000_000L)));
        }
        try (SqliteDatabase db = SqliteDatabase.open(file)) { // as a resumed install finds it
            SqliteModelState store = new SqliteModelState(db);
            ModelInstall read =
                    db.inTransaction(() -> store.getInstall("weights")).orElseThrow();
            assertEquals(new InstallState.Downloading(40), read.state());
            assertEquals(5_000_000L, read.bytesDownloaded());
            assertArrayEquals(manifest, read.manifest());
            assertEquals("b", read.slot());
            assertEquals(1L, read.fromVersion());

            ModelInstall checking = read.in(((InstallState.Downloading) read.state())
                    .downloaded(40)
                    .activated()
                    .failedOnce()
                    .failedOnce());
            db.run(() -> store.saveInstallProgress(checking));
            assertEquals(
                    new InstallState.Checking(40, 2),
                    db.inTransaction(() -> store.getInstall("weights"))
                            .orElseThrow()
                            .state());

            // A new record (a new install of the artifact) starts from its own progress, not the old one's.
            db.run(() -> store.saveInstall(install));
            ModelInstall fresh =
                    db.inTransaction(() -> store.getInstall("weights")).orElseThrow();
            assertEquals(InstallState.Downloading.START, fresh.state());

            db.run(() -> {
                store.saveInstallProgress(fresh.in(new InstallState.Downloading(9), 1L));
                store.deleteInstall("weights");
            });
            assertTrue(db.inTransaction(() -> store.getInstall("weights")).isEmpty());
            db.run(() -> store.saveInstall(install));
            assertEquals(
                    InstallState.Downloading.START,
                    db.inTransaction(() -> store.getInstall("weights"))
                            .orElseThrow()
                            .state());
        }
    }

    @Test
    void aPhaseThisRuntimeDoesNotKnowIsAStorageError() throws Exception {
        Path file = dir.resolve("device.db");
        try (SqliteDatabase db = SqliteDatabase.open(file)) {
            SqliteModelState store = new SqliteModelState(db);
            db.run(() -> store.saveInstall(new ModelInstall(
                    "weights", 2, null, new byte[] {1}, null, null, "a", InstallState.Downloading.START, 0)));
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement s = c.createStatement()) {
            s.execute("update model_install set phase = 'planned'");
        }
        try (SqliteDatabase db = SqliteDatabase.open(file)) {
            SqliteModelState store = new SqliteModelState(db);
            DeviceException e =
                    assertThrows(DeviceException.class, () -> db.inTransaction(() -> store.getInstall("weights")));
            assertEquals(ExitCode.STORAGE, e.exitCode());
            assertTrue(e.getMessage().contains("planned"), e.getMessage());
        }
    }
}
