package dev.outpost.model.wire;

import dev.outpost.model.change.Change;
import java.util.List;

/**
 * A list of changes as it crosses the wire, with the batch id that makes a push idempotent ({@code null} where the
 * message is not a push, e.g. a page of pulled changes).
 */
public record ChangeBatch(String batchId, List<Change> changes) {
    public ChangeBatch {
        changes = List.copyOf(changes);
    }
}
