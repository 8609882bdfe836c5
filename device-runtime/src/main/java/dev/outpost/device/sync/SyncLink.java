package dev.outpost.device.sync;

import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;

/**
 * One sync round trip to the service (push a batch, pull a page: docs/protocol.md). Contract:
 * <ul>
 *   <li>{@link #exchange} returns what the service answered: {@link Reply.Accepted} (200, the answer decoded),
 *       {@link Reply.Refused} (a 4xx problem answer) or {@link Reply.Failed} (5xx: the service could not answer).
 *   <li>When no answer arrives (connection refused or dropped, time-out, an answer that cannot be read) it throws a
 *       {@code DeviceException} with exit code 3. The service may or may not have applied the batch: sending the same
 *       request again is safe, since a batch id is applied once and a pull changes nothing.
 *   <li>It never changes local state.
 * </ul>
 */
public interface SyncLink {
    Reply exchange(SyncRequest request);

    /**
     * The schema the service runs now, in its JSON form ({@code GET /v1/device/schema}); exit code 3 when it cannot be
     * had (no answer, or an answer other than the schema).
     */
    default String currentSchema() {
        throw new dev.outpost.device.DeviceException(
                dev.outpost.device.ExitCode.UNREACHABLE, "this link cannot fetch the service's schema");
    }

    sealed interface Reply {
        /** {@code schemaVersion}: the version of the schema the service runs, 0 when it did not say. */
        record Accepted(SyncResponse response, int schemaVersion) implements Reply {
            public Accepted(SyncResponse response) {
                this(response, 0);
            }
        }

        record Refused(Problem problem) implements Reply {}

        record Failed(int status) implements Reply {}
    }
}
