package dev.outpost.device.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.store.LocalStore.ModelInstall;
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
        ModelInstall install =
                new ModelInstall("weights", 2, 1L, new byte[] {1}, manifest, new byte[] {3}, "b", "planned", 0, 0, 0);
        Path file = dir.resolve("device.db");
        try (LocalStore store = LocalStore.open(file)) {
            store.inTransaction(() -> {
                store.saveModelInstall(install);
                return null;
            });
            store.inTransaction(() -> {
                store.saveModelInstallProgress(install.withProgress("downloading", 40, 5_000_000L, 0));
                return null;
            });
        }
        try (LocalStore store = LocalStore.open(file)) { // as a resumed install finds it
            ModelInstall read =
                    store.inTransaction(() -> store.getModelInstall("weights")).orElseThrow();
            assertEquals("downloading", read.phase());
            assertEquals(40, read.stepDone());
            assertEquals(5_000_000L, read.bytesDownloaded());
            assertArrayEquals(manifest, read.manifest());
            assertEquals("b", read.slot());
            assertEquals(1L, read.fromVersion());

            store.inTransaction(() -> {
                store.saveModelInstallProgress(read.withProgress("checking", 40, 5_000_000L, 2));
                return null;
            });
            assertEquals(
                    2,
                    store.inTransaction(() -> store.getModelInstall("weights"))
                            .orElseThrow()
                            .healthTries());

            // A new record (a new install of the artifact) starts from its own progress, not the old one's.
            store.inTransaction(() -> {
                store.saveModelInstall(install);
                return null;
            });
            ModelInstall fresh =
                    store.inTransaction(() -> store.getModelInstall("weights")).orElseThrow();
            assertEquals("planned", fresh.phase());
            assertEquals(0, fresh.stepDone());

            store.inTransaction(() -> {
                store.saveModelInstallProgress(fresh.withProgress("downloading", 9, 1L, 0));
                store.deleteModelInstall("weights");
                return null;
            });
            assertTrue(
                    store.inTransaction(() -> store.getModelInstall("weights")).isEmpty());
            store.inTransaction(() -> {
                store.saveModelInstall(install);
                return null;
            });
            assertEquals(
                    "planned",
                    store.inTransaction(() -> store.getModelInstall("weights"))
                            .orElseThrow()
                            .phase());
        }
    }
}
