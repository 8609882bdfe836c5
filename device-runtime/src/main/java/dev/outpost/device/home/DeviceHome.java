package dev.outpost.device.home;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A device's home folder: the SQLite file, the credential, the local API's token and the schema, as YAML and as JSON
 * ({@link SchemaLoader#toJson}, which opens without a YAML parser; homes set up before it existed have only the YAML,
 * and open from that). The folder is its owner's only (0700) and so is every file in it (0600): {@link #lockDown}
 * sets that on a new home and again on every open (homes made before it were created world-readable). Failures to
 * read or write are exit code 5, a home that is not set up is exit code 2.
 */
public record DeviceHome(Path dir) {
    public static final String DB_FILE = "outpost.db";
    public static final String CREDENTIAL_FILE = "credential";
    public static final String SCHEMA_FILE = "schema.yaml";
    public static final String SCHEMA_JSON_FILE = "schema.json";
    public static final String MODELS_DIR = "models";
    public static final String API_TOKEN_FILE = "api-token";
    /** Where the database's key comes from ({@link DatabaseKeySource}); absent: the database is not encrypted. */
    public static final String DB_KEY_SOURCE_FILE = "database-key-source";
    /** The source a key change is moving to, kept until the change is done ({@code OutpostDevice#changeDatabaseKey}). */
    public static final String DB_KEY_SOURCE_NEXT_FILE = DB_KEY_SOURCE_FILE + ".next";

    /**
     * Whether the file system keeps POSIX modes. Asked of the file system, not of the home's file store: finding the
     * store reads the mount table, a cost every short command would pay.
     */
    private static final boolean POSIX =
            java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    private static final java.util.Set<java.nio.file.attribute.PosixFilePermission> OWNER_DIR =
            PosixFilePermissions.fromString("rwx------");
    private static final java.util.Set<java.nio.file.attribute.PosixFilePermission> OWNER_FILE =
            PosixFilePermissions.fromString("rw-------");

    public Path database() {
        return dir.resolve(DB_FILE);
    }

    public Path models() {
        return dir.resolve(MODELS_DIR);
    }

    public boolean isSetUp() {
        return Files.exists(database());
    }

    /** Fails with exit code 2 unless a device is set up here. */
    public DeviceHome requireSetUp() {
        if (!isSetUp()) {
            throw new DeviceException(ExitCode.BAD_INPUT, "no device in " + dir + ": run 'outpost init' first");
        }
        return this;
    }

    /** The schema the device runs: the JSON copy when there is one, else the YAML. */
    public Schema schema() {
        try {
            Path json = dir.resolve(SCHEMA_JSON_FILE);
            return Files.exists(json)
                    ? SchemaLoader.parseJson(Files.readString(json))
                    : SchemaLoader.parse(Files.readString(dir.resolve(SCHEMA_FILE)));
        } catch (IOException | OutpostException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot read the schema in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Writes the schema as given (YAML) and as JSON. */
    public void writeSchema(String yaml, Schema parsed) {
        try {
            Files.createDirectories(dir);
            writeOwnerOnly(dir.resolve(SCHEMA_FILE), yaml);
            writeOwnerOnly(dir.resolve(SCHEMA_JSON_FILE), SchemaLoader.toJson(parsed));
        } catch (IOException e) {
            throw storage("cannot write the schema", e);
        }
    }

    /**
     * Creates the folder (0700) and an empty database file (0600) unless they exist, and makes an existing folder and
     * its files its owner's only: SQLite creates the database's -wal and -shm files with the database file's mode.
     * A file system without POSIX permissions is left as it is.
     */
    public void lockDown() {
        try {
            Files.createDirectories(dir);
            if (!POSIX) {
                return;
            }
            if (!Files.getPosixFilePermissions(dir).equals(OWNER_DIR)) {
                Files.setPosixFilePermissions(dir, OWNER_DIR);
            }
            if (!Files.exists(database())) {
                Files.createFile(database(), PosixFilePermissions.asFileAttribute(OWNER_FILE));
            }
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    if (Files.isDirectory(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        if (f.getFileName().toString().equals(MODELS_DIR)) {
                            Files.setPosixFilePermissions(f, OWNER_DIR);
                        }
                    } else if (Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                            && !Files.getPosixFilePermissions(f).equals(OWNER_FILE)) {
                        Files.setPosixFilePermissions(f, OWNER_FILE);
                    }
                }
            }
        } catch (IOException e) {
            throw storage("cannot make the device home its owner's only", e);
        }
    }

    /**
     * The local API's token (a 0600 file, {@link #API_TOKEN_FILE}), made on first use: apps on the device read it and
     * send it with every request. Deleting the file and restarting {@code outpost run} makes a new one.
     */
    public String apiToken() {
        Path file = dir.resolve(API_TOKEN_FILE);
        try {
            if (Files.exists(file)) {
                String token = Files.readString(file).trim();
                if (!token.isEmpty()) {
                    return token;
                }
            }
            byte[] random = new byte[32];
            new java.security.SecureRandom().nextBytes(random);
            String token =
                    "opa_" + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            writeOwnerOnly(file, token);
            return token;
        } catch (IOException e) {
            throw storage("cannot make the local API token", e);
        }
    }

    /** The device token. */
    public String credential() {
        Path file = dir.resolve(CREDENTIAL_FILE);
        try {
            return Files.readString(file).trim();
        } catch (IOException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot read the credential " + file, e);
        }
    }

    /** Writes the token readable by its owner only (0600), also when the file exists with wider permissions. */
    public void writeCredential(String token) {
        try {
            writeOwnerOnly(dir.resolve(CREDENTIAL_FILE), token);
        } catch (IOException e) {
            throw storage("cannot write the credential", e);
        }
    }

    /**
     * Replaces the credential whole: the new token goes to a 0600 file beside it, which then takes its name in one
     * step, so a crash leaves the old credential or the new one, never half of one.
     */
    public void replaceCredential(String token) {
        Path file = dir.resolve(CREDENTIAL_FILE);
        Path next = dir.resolve(CREDENTIAL_FILE + ".next");
        try {
            Files.deleteIfExists(next);
            writeOwnerOnly(next, token);
            Files.move(
                    next,
                    file,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw storage("cannot replace the credential", e);
        }
    }

    /** Where the database's key comes from: {@link DatabaseKeySource#NONE} when the home has no key source. */
    public DatabaseKeySource databaseKeySource() {
        return keySource(DB_KEY_SOURCE_FILE).orElse(DatabaseKeySource.NONE);
    }

    /** The key source a key change left behind when it stopped before finishing, if it did. */
    public java.util.Optional<DatabaseKeySource> pendingDatabaseKeySource() {
        return keySource(DB_KEY_SOURCE_NEXT_FILE);
    }

    private java.util.Optional<DatabaseKeySource> keySource(String name) {
        Path file = dir.resolve(name);
        try {
            return Files.exists(file)
                    ? java.util.Optional.of(DatabaseKeySource.parse(Files.readString(file)))
                    : java.util.Optional.empty();
        } catch (IOException e) {
            throw storage("cannot read " + name, e);
        }
    }

    /** Keeps {@code source} as the one a key change moves to (0600), before the database changes key. */
    public void writePendingDatabaseKeySource(DatabaseKeySource source) {
        try {
            writeOwnerOnly(dir.resolve(DB_KEY_SOURCE_NEXT_FILE), source.toString());
        } catch (IOException e) {
            throw storage("cannot write " + DB_KEY_SOURCE_NEXT_FILE, e);
        }
    }

    /** The pending key source becomes the home's, in one step (a rename). */
    public void promotePendingDatabaseKeySource() {
        try {
            Files.move(
                    dir.resolve(DB_KEY_SOURCE_NEXT_FILE),
                    dir.resolve(DB_KEY_SOURCE_FILE),
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw storage("cannot keep the new database key source", e);
        }
    }

    /** Forgets a pending key source: the change it was for did not happen. */
    public void dropPendingDatabaseKeySource() {
        try {
            Files.deleteIfExists(dir.resolve(DB_KEY_SOURCE_NEXT_FILE));
        } catch (IOException e) {
            throw storage("cannot remove " + DB_KEY_SOURCE_NEXT_FILE, e);
        }
    }

    /** Writes {@code text} to a file readable by its owner only (0600), also when it exists with wider permissions. */
    private void writeOwnerOnly(Path file, String text) throws IOException {
        Files.createDirectories(dir);
        boolean posix = POSIX;
        try {
            if (posix) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_FILE));
            } else {
                Files.createFile(file);
            }
        } catch (FileAlreadyExistsException e) {
            if (posix) {
                Files.setPosixFilePermissions(file, OWNER_FILE);
            }
        }
        Files.writeString(file, text);
    }

    private DeviceException storage(String what, IOException e) {
        return new DeviceException(ExitCode.STORAGE, what + " in the device home " + dir + ": " + e.getMessage(), e);
    }
}
