package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.store.InstallPhase;
import dev.outpost.device.store.ModelState.ModelInstall;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An install's record and its progress on a real SQLite file: progress is saved apart from the record (whose
 * manifest can be hundreds of KB), read back merged with it, reset by a new record and gone with the install.
 */
class ModelInstallIT {
    @TempDir
    Path dir;

    @Test
    void progressIsSavedApartFromTheRecordAndReadBackWithIt() throws Exception {
        byte[] manifest = new byte[300_000];
        manifest[123] = 7;
        ModelInstall install = new ModelInstall(
                "weights", 2, 1L, new byte[] {1}, manifest, new byte[] {3}, "b", InstallPhase.ACTIVATING, 0, 0, 0);
        Path file = dir.resolve("device.db");
        try (SqliteDatabase db = SqliteDatabase.open(file)) {
            SqliteModelState store = new SqliteModelState(db);
            db.inTransaction(() -> {
                store.saveInstall(install);
                return null;
            });
            db.inTransaction(() -> {
                store.saveInstallProgress(install.withProgress(InstallPhase.DOWNLOADING, 40, 5_000_000L, 0));
                return null;
            });
        }
        try (SqliteDatabase db = SqliteDatabase.open(file)) {
            SqliteModelState store = new SqliteModelState(db); // as a resumed install finds it
            ModelInstall read =
                    db.inTransaction(() -> store.getInstall("weights")).orElseThrow();
            assertEquals(InstallPhase.DOWNLOADING, read.phase());
            assertEquals(40, read.stepDone());
            assertEquals(5_000_000L, read.bytesDownloaded());
            assertArrayEquals(manifest, read.manifest());
            assertEquals("b", read.slot());
            assertEquals(1L, read.fromVersion());

            db.inTransaction(() -> {
                store.saveInstallProgress(read.withProgress(InstallPhase.CHECKING, 40, 5_000_000L, 2));
                return null;
            });
            assertEquals(
                    2,
                    db.inTransaction(() -> store.getInstall("weights"))
                            .orElseThrow()
                            .healthTries());

            // A new record (a new install of the artifact) starts from its own progress, not the old one's.
            db.inTransaction(() -> {
                store.saveInstall(install);
                return null;
            });
            ModelInstall fresh =
                    db.inTransaction(() -> store.getInstall("weights")).orElseThrow();
            assertEquals(InstallPhase.ACTIVATING, fresh.phase());
            assertEquals(0, fresh.stepDone());

            db.inTransaction(() -> {
                store.saveInstallProgress(fresh.withProgress(InstallPhase.DOWNLOADING, 9, 1L, 0));
                store.deleteInstall("weights");
                return null;
            });
            assertTrue(db.inTransaction(() -> store.getInstall("weights")).isEmpty());
            db.inTransaction(() -> {
                store.saveInstall(install);
                return null;
            });
            assertEquals(
                    InstallPhase.ACTIVATING,
                    db.inTransaction(() -> store.getInstall("weights"))
                            .orElseThrow()
                            .phase());
        }
    }
}
