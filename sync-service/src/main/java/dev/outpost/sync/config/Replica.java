package dev.outpost.sync.config;

import jakarta.inject.Singleton;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * This process among the service's replicas: its id ({@code outpost.replica-id}, or random per process) names the
 * clock of its server changes ({@code server.<id>}, at most 64 characters as every clock's node id) and the jobs it
 * claims.
 */
@Singleton
public class Replica {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_.-]{1,57}");

    private final String id;

    public Replica(OutpostConfig config) {
        this.id = id(config.replicaId());
    }

    /** The configured id, checked, or a random one (8 characters of a-z and 0-9). */
    static String id(Optional<String> configured) {
        if (configured.isPresent() && !configured.get().isBlank()) {
            String id = configured.get().strip();
            if (!ID.matcher(id).matches()) {
                throw new IllegalArgumentException(
                        "outpost.replica-id '" + id + "' is not 1-57 letters, digits, '-', '_' or '.'");
            }
            return id;
        }
        SecureRandom random = new SecureRandom();
        StringBuilder id = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            id.append(Character.forDigit(random.nextInt(36), 36));
        }
        return id.toString();
    }

    public String id() {
        return id;
    }
}
