package dev.outpost.sync;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Base64;
import java.util.Map;
import javax.sql.DataSource;

/**
 * The embedded PostgreSQL's credentials and the datasource settings that point Quarkus at it. Its {@code initdb}
 * trusts every local connection; {@link #lockDown} replaces that, on the first start of a data directory (or the
 * first start of this release on an older one), with a password generated for it and kept beside the data
 * ({@link #passwordFile}, 0600), required of every connection (scram-sha-256). Any other local user or process then
 * needs that file, not just the port.
 */
public final class EmbeddedDatabase {
    /** The generated password's file: beside the data directory ({@code initdb} wants that one empty). */
    public static Path passwordFile(Path dataDir) {
        return dataDir.toAbsolutePath().resolveSibling(dataDir.getFileName() + ".password");
    }

    /** Marks a pg_hba.conf this class wrote. */
    private static final String HBA_MARKER = "# outpost: password required (EmbeddedDatabase)";

    private EmbeddedDatabase() {}

    /** Datasource settings for a database on {@code port} signed in to as {@code postgres} with {@code password}. */
    public static Map<String, String> settings(int port, String password) {
        return Map.of(
                "quarkus.datasource.jdbc.url",
                "jdbc:postgresql://localhost:" + port + "/postgres",
                "quarkus.datasource.reactive.url",
                "postgresql://localhost:" + port + "/postgres",
                "quarkus.datasource.username",
                "postgres",
                "quarkus.datasource.password",
                password);
    }

    /** The data directory's password: read from {@link #passwordFile}, or generated (32 random bytes) and kept. */
    static String password(Path dataDir) throws IOException {
        Path file = passwordFile(dataDir);
        if (Files.exists(file)) {
            String kept = Files.readString(file).strip();
            if (!kept.isEmpty()) {
                return kept;
            }
        }
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String password = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        Path next = file.resolveSibling(file.getFileName() + ".next");
        Files.deleteIfExists(next);
        try {
            Files.createFile(next, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException e) {
            throw new IOException("another process is setting up " + dataDir, e);
        }
        Files.writeString(next, password);
        Files.move(next, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return password;
    }

    /**
     * Makes the running server require {@code password}: sets it on the {@code postgres} role and replaces
     * pg_hba.conf's trust rules by password rules, then reloads. Done once; later starts find the marker and skip it.
     */
    static void lockDown(DataSource postgres, Path dataDir, String password) throws IOException {
        Path hba = dataDir.resolve("pg_hba.conf");
        if (Files.readString(hba).startsWith(HBA_MARKER)) {
            return;
        }
        try (Connection c = postgres.getConnection();
                Statement s = c.createStatement()) {
            s.execute("set password_encryption = 'scram-sha-256'");
            s.execute("alter role postgres password '" + password.replace("'", "''") + "'");
            Path next = dataDir.resolve("pg_hba.conf.next");
            Files.writeString(
                    next,
                    HBA_MARKER + "\n"
                            + "local all all scram-sha-256\n"
                            + "host all all 127.0.0.1/32 scram-sha-256\n"
                            + "host all all ::1/128 scram-sha-256\n");
            Files.move(next, hba, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            s.execute("select pg_reload_conf()");
        } catch (SQLException e) {
            throw new IOException("cannot set the embedded PostgreSQL's password: " + e.getMessage(), e);
        }
    }
}
