package dev.outpost.sync;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Real PostgreSQL 17 for the tests, started once per test run (zonky's binaries from Maven Central, no
 * containers). Set {@code OUTPOST_TEST_REACTIVE_URL} and {@code OUTPOST_TEST_JDBC_URL} (plus
 * {@code OUTPOST_TEST_DB_USER}/{@code OUTPOST_TEST_DB_PASSWORD}) to run against a real server instead.
 */
public class PostgresResource implements QuarkusTestResourceLifecycleManager {
    private static EmbeddedPostgres embedded;

    @Override
    public synchronized Map<String, String> start() {
        String reactive = System.getenv("OUTPOST_TEST_REACTIVE_URL");
        if (reactive != null && !reactive.isBlank()) {
            Map<String, String> m = new HashMap<>();
            m.put("quarkus.datasource.reactive.url", reactive);
            m.put("quarkus.datasource.jdbc.url", System.getenv("OUTPOST_TEST_JDBC_URL"));
            m.put("quarkus.datasource.username", System.getenv().getOrDefault("OUTPOST_TEST_DB_USER", "postgres"));
            m.put("quarkus.datasource.password", System.getenv().getOrDefault("OUTPOST_TEST_DB_PASSWORD", "postgres"));
            return m;
        }
        if (embedded == null) {
            try {
                embedded = EmbeddedPostgres.builder().start();
            } catch (IOException e) {
                throw new UncheckedIOException("embedded PostgreSQL did not start", e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    embedded.close();
                } catch (IOException ignored) {
                    // the JVM is exiting; the temporary data directory goes with it
                }
            }));
        }
        // The tests' own throwaway server trusts local connections (initdb's default): any password signs in.
        return EmbeddedDatabase.settings(embedded.getPort(), "postgres");
    }

    @Override
    public void stop() {
        // Kept for the whole test run; closed by the shutdown hook.
    }
}
