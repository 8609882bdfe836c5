package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.home.DatabaseKeySource;
import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.http.LinkPolicy;
import dev.outpost.device.model.ModelTrust;
import dev.outpost.device.sqlite.SqliteDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device database encrypted at rest (SQLite3 Multiple Ciphers, the library the build makes and the tests run):
 * nothing written is readable in the file; the key comes from a file, a variable or a command and is never kept in
 * the home; a wrong or missing key opens nothing and changes nothing; a home is encrypted, moved to another key and
 * decrypted in place, a key change that stopped midway settles on the key that opens the file, and a change while
 * {@code outpost run} has the database open is refused with the data untouched.
 */
class DatabaseEncryptionIT {
    /** A value that would show up in the file's bytes if it were written in the clear. */
    private static final String MARKER = "Wanjiru-Kamau-7731";

    @TempDir
    Path dir;

    private Path home() {
        return dir.resolve("home");
    }

    private String init(DatabaseKeySource key) {
        return OutpostDevice.init(
                home(),
                "http://127.0.0.1:9",
                "tab-enc",
                "opd_enc",
                null,
                List.of("nakuru"),
                ModelTrust.NONE,
                LinkPolicy.DEFAULT,
                key);
    }

    private void write(String id) {
        try (OutpostDevice d = OutpostDevice.open(home())) {
            d.rows().put("farmer", id, Map.of("name", MARKER, "village", "Njoro"));
        }
    }

    /** The row's name, read through the typed tables: a second connection to the file, keyed the same. */
    private String name(String id) {
        try (OutpostDevice d = OutpostDevice.open(home())) {
            assertTrue(d.rows().get("farmer", id).isPresent());
            return (String) d.rows()
                    .query("select name from farmer where id = ?", List.of(id))
                    .getFirst()
                    .get("name");
        }
    }

    private Path keyFile(String key) throws Exception {
        Path f = dir.resolve("key-" + key.hashCode());
        Files.writeString(f, key + "\n");
        return f;
    }

    /** Whether {@code text} appears in the database file or its WAL, as bytes. */
    private boolean inTheClear(String text) throws Exception {
        byte[] needle = text.getBytes(StandardCharsets.UTF_8);
        for (String name : List.of(DeviceHome.DB_FILE, DeviceHome.DB_FILE + "-wal")) {
            Path f = home().resolve(name);
            if (Files.exists(f) && indexOf(Files.readAllBytes(f), needle) >= 0) {
                return true;
            }
        }
        return false;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private String fingerprint() throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (String name : List.of(DeviceHome.DB_FILE, DeviceHome.DB_FILE + "-wal")) {
            Path f = home().resolve(name);
            if (Files.exists(f)) {
                sha.update(Files.readAllBytes(f));
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    @Test
    void encryptedHomeHoldsNothingInTheClearAndOpensOnlyWithItsKey() throws Exception {
        Path key = keyFile("correct horse battery staple");
        init(DatabaseKeySource.file(key));
        write("f1");
        assertEquals(MARKER, name("f1"));
        assertFalse(inTheClear(MARKER), "a written value is readable in the database file");
        byte[] header = new byte[16];
        try (var in = Files.newInputStream(home().resolve(DeviceHome.DB_FILE))) {
            assertEquals(16, in.read(header));
        }
        assertFalse(new String(header, StandardCharsets.ISO_8859_1).startsWith("SQLite format 3"));
        // The home names the key's source, not the key.
        String source = Files.readString(home().resolve(DeviceHome.DB_KEY_SOURCE_FILE));
        assertEquals("file:" + key.toAbsolutePath(), source);
        try (var files = Files.list(home())) {
            for (Path f : files.toList()) {
                if (Files.isRegularFile(f)) {
                    assertFalse(
                            Files.readString(f, StandardCharsets.ISO_8859_1).contains("battery staple"),
                            "the key is kept in " + f);
                }
            }
        }

        // A wrong key, and a key that cannot be had, open nothing and change nothing.
        String before = fingerprint();
        Files.writeString(key, "not the key\n");
        DeviceException wrong = assertThrows(DeviceException.class, () -> name("f1"));
        assertEquals(ExitCode.STORAGE, wrong.exitCode());
        assertTrue(wrong.getMessage().contains("the key does not open it"), wrong.getMessage());
        Files.delete(key);
        DeviceException missing = assertThrows(DeviceException.class, () -> name("f1"));
        assertEquals(ExitCode.STORAGE, missing.exitCode());
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        assertEquals(before, fingerprint());

        // Without a source at all, the file reads as not a database.
        Files.delete(home().resolve(DeviceHome.DB_KEY_SOURCE_FILE));
        DeviceException none = assertThrows(DeviceException.class, () -> name("f1"));
        assertTrue(none.getMessage().contains("it is encrypted"), none.getMessage());
        assertEquals(before, fingerprint());
    }

    @Test
    void keyFromAVariableOrACommand() throws Exception {
        Path secret = keyFile("from-a-keystore");
        // A command: what a platform keystore's client would be; its output is the key.
        init(DatabaseKeySource.command("cat '" + secret + "'"));
        write("f1");
        assertEquals(MARKER, name("f1"));
        assertFalse(inTheClear(MARKER));

        // The same database through a variable holding the same key (this JVM's environment has no such variable, so
        // a variable that is not set is what the test can see; the binary test below sets one).
        Files.writeString(home().resolve(DeviceHome.DB_KEY_SOURCE_FILE), "env:OUTPOST_TEST_UNSET_KEY");
        DeviceException unset = assertThrows(DeviceException.class, () -> name("f1"));
        assertEquals(ExitCode.STORAGE, unset.exitCode());
        assertTrue(unset.getMessage().contains("is not set"), unset.getMessage());

        // A command that fails is reported as such, and nothing opens.
        Files.writeString(home().resolve(DeviceHome.DB_KEY_SOURCE_FILE), "command:echo locked >&2; exit 3");
        DeviceException failed = assertThrows(DeviceException.class, () -> name("f1"));
        assertTrue(failed.getMessage().contains("exited with 3"), failed.getMessage());
    }

    @Test
    void aHomeIsEncryptedMovedToAnotherKeyAndDecryptedInPlace() throws Exception {
        init(DatabaseKeySource.NONE);
        write("f1");
        assertTrue(inTheClear(MARKER), "the plain home should hold the value in the clear");

        OutpostDevice.changeDatabaseKey(home(), DatabaseKeySource.file(keyFile("first key")));
        assertFalse(inTheClear(MARKER), "encrypting left the value readable");
        assertEquals(MARKER, name("f1"));
        write("f2");

        Path second = keyFile("second key");
        OutpostDevice.changeDatabaseKey(home(), DatabaseKeySource.file(second));
        assertFalse(inTheClear(MARKER));
        assertFalse(SqliteDatabase.opensWith(home().resolve(DeviceHome.DB_FILE), "first key"));
        assertTrue(SqliteDatabase.opensWith(home().resolve(DeviceHome.DB_FILE), "second key"));
        assertEquals(MARKER, name("f2"));

        OutpostDevice.changeDatabaseKey(home(), DatabaseKeySource.NONE);
        assertTrue(SqliteDatabase.opensWith(home().resolve(DeviceHome.DB_FILE), null));
        assertEquals(MARKER, name("f1"));
        assertEquals(MARKER, name("f2"));
        assertFalse(Files.exists(home().resolve(DeviceHome.DB_KEY_SOURCE_NEXT_FILE)));
    }

    @Test
    void aKeyChangeThatStoppedMidwaySettlesOnTheKeyThatOpensTheFile() throws Exception {
        Path a = keyFile("key a");
        Path b = keyFile("key b");
        init(DatabaseKeySource.file(a));
        write("f1");
        DeviceHome h = new DeviceHome(home());

        // Stopped after the new source was written, before the database changed key: the old key stays, also when
        // the new key cannot be had now.
        h.writePendingDatabaseKeySource(DatabaseKeySource.file(b));
        assertEquals(MARKER, name("f1"));
        assertEquals(DatabaseKeySource.file(a), h.databaseKeySource());
        assertTrue(h.pendingDatabaseKeySource().isEmpty());
        h.writePendingDatabaseKeySource(DatabaseKeySource.env("OUTPOST_TEST_UNSET_KEY"));
        assertEquals(MARKER, name("f1"));
        assertEquals(DatabaseKeySource.file(a), h.databaseKeySource());
        assertTrue(h.pendingDatabaseKeySource().isEmpty());

        // Stopped after the database changed key, before the new source took the old one's place: the new one does.
        h.writePendingDatabaseKeySource(DatabaseKeySource.file(b));
        try (SqliteDatabase db = SqliteDatabase.open(home().resolve(DeviceHome.DB_FILE), "key a")) {
            db.rekey("key b");
        }
        assertEquals(MARKER, name("f1"));
        assertEquals(DatabaseKeySource.file(b), h.databaseKeySource());
        assertTrue(h.pendingDatabaseKeySource().isEmpty());
    }

    @Test
    void theBinaryEncryptsAndRefusesAKeyChangeWhileRunning() throws Exception {
        Outpost device = new Outpost(home());
        Path key = keyFile("binary key");
        device.run(
                        "init",
                        "--server",
                        "http://127.0.0.1:9",
                        "--device-id",
                        "tab-bin",
                        "--token",
                        "opd_bin",
                        "--scope",
                        "nakuru",
                        "--db-key-file",
                        key.toString())
                .ok();
        device.run("put", "farmer", "f1", "name=" + MARKER, "village=Njoro").ok();
        assertEquals(
                MARKER,
                TestJson.parse(device.run("get", "farmer", "f1").ok().out())
                        .get("name")
                        .asText());
        assertFalse(inTheClear(MARKER));

        // Two sources at once is a usage error (1), and nothing changes.
        Outpost.Result both = device.run("db-key", "--file", key.toString(), "--none");
        assertEquals(1, both.exit(), both.err());

        try (Outpost.Running running = device.startRun()) {
            Outpost.Result refused = device.run("db-key", "--none");
            assertEquals(5, refused.exit(), refused.out() + refused.err());
            assertTrue(refused.err().contains("another process has it open"), refused.err());
        }
        assertFalse(inTheClear(MARKER));
        assertEquals("file:" + key.toAbsolutePath(), Files.readString(home().resolve(DeviceHome.DB_KEY_SOURCE_FILE)));
        assertTrue(SqliteDatabase.opensWith(home().resolve(DeviceHome.DB_FILE), "binary key"));

        // Stopped, the change goes through: the key now comes from a variable the command's environment sets.
        Outpost.Result moved =
                device.run(List.of("env", "OUTPOST_DB_KEY=from the environment"), "db-key", "--env", "OUTPOST_DB_KEY");
        assertEquals(0, moved.exit(), moved.err());
        assertEquals(
                MARKER,
                TestJson.parse(device.run(List.of("env", "OUTPOST_DB_KEY=from the environment"), "get", "farmer", "f1")
                                .ok()
                                .out())
                        .get("name")
                        .asText());
        Outpost.Result without = device.run("get", "farmer", "f1");
        assertEquals(5, without.exit());
        assertTrue(
                without.err().startsWith("outpost: the database key (env:OUTPOST_DB_KEY) is not set"), without.err());
        assertEquals("", without.out(), "nothing printed when the database cannot be opened");
    }
}
