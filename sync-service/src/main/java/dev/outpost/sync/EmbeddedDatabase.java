package dev.outpost.sync;

import java.util.Map;

/** Datasource settings that point Quarkus at an embedded PostgreSQL on {@code port}. */
public final class EmbeddedDatabase {
    private EmbeddedDatabase() {}

    public static Map<String, String> settings(int port) {
        return Map.of(
                "quarkus.datasource.jdbc.url",
                "jdbc:postgresql://localhost:" + port + "/postgres",
                "quarkus.datasource.reactive.url",
                "postgresql://localhost:" + port + "/postgres",
                "quarkus.datasource.username",
                "postgres",
                "quarkus.datasource.password",
                "postgres");
    }
}
