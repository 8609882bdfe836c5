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
 * A device's home folder: the SQLite file, the credential (mode 0600) and the schema, as YAML and as JSON
 * ({@link SchemaLoader#toJson}, which opens without a YAML parser; homes set up before it existed have only the YAML,
 * and open from that). Failures to read or write are exit code 5, a home that is not set up is exit code 2.
 */
public record DeviceHome(Path dir) {
    public static final String DB_FILE = "outpost.db";
    public static final String CREDENTIAL_FILE = "credential";
    public static final String SCHEMA_FILE = "schema.yaml";
    public static final String SCHEMA_JSON_FILE = "schema.json";
    public static final String MODELS_DIR = "models";

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
            Files.writeString(dir.resolve(SCHEMA_FILE), yaml);
            Files.writeString(dir.resolve(SCHEMA_JSON_FILE), SchemaLoader.toJson(parsed));
        } catch (IOException e) {
            throw storage("cannot write the schema", e);
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
        Path file = dir.resolve(CREDENTIAL_FILE);
        try {
            Files.createDirectories(dir);
            try {
                Files.createFile(
                        file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (FileAlreadyExistsException e) {
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            }
            Files.writeString(file, token);
        } catch (IOException e) {
            throw storage("cannot write the credential", e);
        }
    }

    private DeviceException storage(String what, IOException e) {
        return new DeviceException(ExitCode.STORAGE, what + " in the device home " + dir + ": " + e.getMessage(), e);
    }
}
