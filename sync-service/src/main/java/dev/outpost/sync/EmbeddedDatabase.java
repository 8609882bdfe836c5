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
import java.util.concurrent.TimeUnit;
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

    /**
     * Stops a postmaster that a killed service left running on {@code dataDir} (a SIGKILL or an OOM kill takes the
     * JVM, not the PostgreSQL it started), so that this start does not wait on a data directory another postmaster
     * holds. Its pid is the first line of {@code postmaster.pid}; it is asked for a fast shutdown (SIGINT: sessions
     * ended, everything committed kept) and, if it is still there after 30 s, killed (PostgreSQL recovers from its WAL
     * on the next start). A pid file whose process is gone, or is not a postgres, is left to PostgreSQL.
     *
     * @return whether a postmaster was stopped
     */
    static boolean stopOrphanedPostmaster(Path dataDir) throws IOException {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return false;
        }
        long pid;
        try {
            pid = Long.parseLong(Files.readAllLines(pidFile).getFirst().strip());
        } catch (RuntimeException e) {
            return false; // half-written: no postmaster got far enough to matter
        }
        var handle = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        if (handle.isEmpty() || !isPostgres(handle.get())) {
            return false;
        }
        ProcessHandle postmaster = handle.get();
        try {
            new ProcessBuilder("kill", "-INT", Long.toString(pid))
                    .inheritIO()
                    .start()
                    .waitFor();
            try {
                postmaster.onExit().get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException slow) {
                postmaster.destroyForcibly();
                postmaster.onExit().get(10, TimeUnit.SECONDS);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping the postmaster " + pid, e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("the postmaster " + pid + " left on " + dataDir + " does not stop", e);
        }
    }

    /** Whether the process runs PostgreSQL's server (its command line, which /proc shows across user namespaces). */
    private static boolean isPostgres(ProcessHandle process) {
        Path cmdline = Path.of("/proc", Long.toString(process.pid()), "cmdline");
        try {
            if (Files.isReadable(cmdline)) {
                String first = Files.readString(cmdline).split("\0", 2)[0];
                return first.endsWith("postgres");
            }
        } catch (IOException e) {
            // gone meanwhile, or not readable: ask the JDK instead
        }
        return process.info().command().map(c -> c.endsWith("postgres")).orElse(false);
    }

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
