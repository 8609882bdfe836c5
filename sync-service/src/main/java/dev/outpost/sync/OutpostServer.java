package dev.outpost.sync;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Entry point of {@code java -jar quarkus-run.jar}. With no database URL configured it first starts an embedded
 * PostgreSQL 17 whose data directory survives restarts ({@code OUTPOST_DB_DIR}, default
 * {@code ~/.outpost-server/pgdata}), so one command runs the whole service on a laptop and keeps its data; it listens
 * on loopback only and signs in with a password generated on first start ({@link EmbeddedDatabase#password}). With
 * {@code QUARKUS_DATASOURCE_REACTIVE_URL} (and the JDBC URL for migrations) set, it uses that server.
 */
@QuarkusMain
public final class OutpostServer {
    private OutpostServer() {}

    public static void main(String... args) {
        if (!databaseConfigured()) {
            startEmbedded();
        }
        Quarkus.run(args);
    }

    private static boolean databaseConfigured() {
        return setting("quarkus.datasource.reactive.url") != null || setting("quarkus.datasource.jdbc.url") != null;
    }

    private static String setting(String key) {
        String v = System.getProperty(key);
        if (v == null) {
            v = System.getenv(
                    key.toUpperCase(java.util.Locale.ROOT).replace('.', '_').replace('-', '_'));
        }
        return v == null || v.isBlank() ? null : v;
    }

    private static void startEmbedded() {
        String dirSetting = setting("outpost.db.dir");
        Path dir = dirSetting != null
                ? Path.of(dirSetting)
                : Path.of(System.getProperty("user.home"), ".outpost-server", "pgdata");
        try {
            Files.createDirectories(dir);
            if (EmbeddedDatabase.stopOrphanedPostmaster(dir)) {
                System.out.println("Outpost: stopped the embedded PostgreSQL a killed service left running on " + dir);
            }
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                    .setDataDirectory(dir)
                    .setCleanDataDirectory(false)
                    // Nothing but this service connects to it: loopback only, never another interface.
                    .setServerConfig("listen_addresses", "localhost")
                    // The library starts PostgreSQL for tests by default: no fsync ("-F") and commits answered before
                    // their WAL is written. A batch the service acknowledged must outlive PostgreSQL being killed (an
                    // acknowledged change is marked sent on the device and never pushed again) and a power cut: the
                    // chaos soak lost one that way (docs/RELIABILITY.md).
                    .setServerConfig("fsync", "on")
                    .setServerConfig("synchronous_commit", "on");
            String port = setting("outpost.db.port");
            if (port != null) {
                builder.setPort(Integer.parseInt(port));
            }
            String password = EmbeddedDatabase.password(dir);
            // The startup check signs in with it too (a fresh data directory trusts anyone until lockDown).
            builder.setConnectConfig("password", password);
            EmbeddedPostgres pg = builder.start();
            EmbeddedDatabase.lockDown(pg.getPostgresDatabase(), dir, password);
            Runtime.getRuntime()
                    .addShutdownHook(new Thread(
                            () -> {
                                try {
                                    pg.close();
                                } catch (IOException e) {
                                    System.err.println("embedded PostgreSQL did not stop cleanly: " + e.getMessage());
                                }
                            },
                            "embedded-postgres-stop"));
            for (var e : EmbeddedDatabase.settings(pg.getPort(), password).entrySet()) {
                System.setProperty(e.getKey(), e.getValue());
            }
            System.out.println(
                    "Outpost: embedded PostgreSQL on port " + pg.getPort() + ", data in " + dir.toAbsolutePath());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the embedded PostgreSQL in " + dir, e);
        }
    }
}
