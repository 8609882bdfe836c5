package dev.outpost.device.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.device.store.Settings.Setting;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Settings are cached per connection inside transactions: two connections on one real SQLite file (as {@code outpost
 * run} and a command beside it) each see the other's committed settings in their next transaction, and a rolled back
 * write is not remembered.
 */
class SettingsCacheIT {
    @TempDir
    Path dir;

    @Test
    void eachConnectionSeesTheOthersCommittedSettingsAndForgetsRolledBackOnes() {
        Path file = dir.resolve("home.db");
        try (SqliteDatabase run = SqliteDatabase.open(file);
                SqliteDatabase command = SqliteDatabase.open(file)) {
            SqliteSettings byRun = new SqliteSettings(run);
            SqliteSettings byCommand = new SqliteSettings(command);
            run.run(() -> byRun.put(Setting.SCOPES, "nakuru"));
            assertEquals(Optional.of("nakuru"), run.inTransaction(() -> byRun.get(Setting.SCOPES)));

            command.run(() -> byCommand.put(Setting.SCOPES, "nakuru,baringo"));
            assertEquals(
                    Optional.of("nakuru,baringo"),
                    run.inTransaction(() -> byRun.get(Setting.SCOPES)),
                    "the other connection's commit is seen");

            assertThrows(
                    IllegalStateException.class,
                    () -> run.run(() -> {
                        byRun.put(Setting.SCOPES, "never");
                        throw new IllegalStateException("the write fails after the setting");
                    }));
            assertEquals(Optional.of("nakuru,baringo"), run.inTransaction(() -> byRun.get(Setting.SCOPES)));
            assertEquals(Optional.of("nakuru,baringo"), command.inTransaction(() -> byCommand.get(Setting.SCOPES)));
        }
    }
}
