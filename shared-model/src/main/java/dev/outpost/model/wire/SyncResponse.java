package dev.outpost.model.wire;

import dev.outpost.model.change.Change;
import dev.outpost.model.merge.Conflict;
import java.util.List;

/**
 * The answer to a {@link SyncRequest}.
 *
 * @param ack what happened to the pushed batch, or {@code null} when nothing was pushed
 * @param cursor where the next pull starts; store it only after the pulled changes are applied
 * @param more whether another page is waiting (pull again with the new cursor)
 * @param serverTimeMs the server's clock, so a device can tell how far off its own is
 * @param modelAssignments signed assignments (base64 of the signed envelope, see docs/artifacts.md), one per model
 *     artifact this device should run
 * @param changes other devices' changes after the old cursor, in feed order
 * @param conflicts the conflicts the pushed batch opened or widened
 */
public record SyncResponse(
        Ack ack,
        String cursor,
        boolean more,
        long serverTimeMs,
        List<String> modelAssignments,
        List<Change> changes,
        List<Conflict> conflicts) {

    /** The server committed the batch ({@code duplicate}: it had already, and this is the same answer again). */
    public record Ack(String batchId, int applied, boolean duplicate) {}

    public SyncResponse {
        modelAssignments = List.copyOf(modelAssignments);
        changes = List.copyOf(changes);
        conflicts = List.copyOf(conflicts);
    }
}
