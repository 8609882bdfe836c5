package dev.outpost.model.schema;

import java.util.Optional;

/**
 * What a table does when a delete meets an update the deleting device had not seen. Either way the loser is kept as
 * an open conflict; nothing is dropped silently.
 */
public enum DeletePolicy {
    /** The delete wins provisionally; the concurrent update stays in a conflict for a person to review. */
    REVIEW("review"),
    /** The row stays alive with the update; the delete stays in a conflict for a person to review. */
    UPDATE_WINS("update_wins");

    private final String key;

    DeletePolicy(String key) {
        this.key = key;
    }

    public String key() {
        return key;
    }

    public static Optional<DeletePolicy> get(String key) {
        for (DeletePolicy p : values()) {
            if (p.key.equals(key)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
