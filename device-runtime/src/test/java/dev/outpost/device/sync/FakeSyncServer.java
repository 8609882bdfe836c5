package dev.outpost.device.sync;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * The sync protocol's server side in memory, for testing the device's sync client against faults (docs/protocol.md):
 * a batch is checked whole (scopes, clocks), applied once per batch id, and the feed is served after a cursor without
 * echoing the device's own changes. With {@link #faults} on, a seeded random share of exchanges loses its answer
 * (before or after applying), fails with 5xx, is refused with 409, 413 or 426 (or per change with 403, 409 or 422),
 * acknowledges another batch, or serves
 * a page cut short and shuffled.
 */
final class FakeSyncServer implements SyncLink {
    static final long SKEW_MAX_MS = 60_000;

    private final Schema schema;
    private final Set<String> granted;
    private final LongSupplier timeMs;
    private final Random random;
    private final Map<String, RowState> rows = new TreeMap<>();
    private final List<Change> feed = new ArrayList<>();
    private final List<String> feedDevice = new ArrayList<>();
    private final Map<String, SyncResponse.Ack> batches = new HashMap<>();
    private final Set<String> takenOnce = new HashSet<>();
    /** Changes accepted per device, each once: what the device's log must account for. */
    final Map<String, List<Change>> accepted = new HashMap<>();

    boolean faults;
    /** Batches with more changes than this are refused as too large (413), when faults are on. */
    int batchChangesMax = Integer.MAX_VALUE;

    int lostAnswers, failures, refusals, wrongAcks, cutPages, tooLarge;

    FakeSyncServer(Schema schema, Set<String> granted, LongSupplier timeMs, long seed) {
        this.schema = schema;
        this.granted = granted;
        this.timeMs = timeMs;
        this.random = new Random(seed);
    }

    /** Another device's batch, applied directly (never refused: its changes are in granted scopes). */
    void pushAs(String deviceId, List<Change> changes) {
        apply(deviceId, changes);
    }

    Map<String, RowState> rows() {
        return Collections.unmodifiableMap(rows);
    }

    @Override
    public Reply exchange(SyncRequest request) {
        int fault = faults ? random.nextInt(40) : -1;
        if (fault == 0) {
            lostAnswers++;
            throw new DeviceException(ExitCode.UNREACHABLE, "link dropped before the server read the request");
        }
        if (fault == 1) {
            failures++;
            return new Reply.Failed(503);
        }
        if (fault == 2) {
            refusals++;
            return new Reply.Refused(
                    new Problem(426, ErrorCode.UPGRADE_REQUIRED.key(), "upgrade required", List.of(), -1, -1));
        }
        boolean pushing = !request.changes().isEmpty();
        // The real service says "taken" only of an id another device holds: never of one it applied for this one.
        if (pushing && fault == 3 && !batches.containsKey(request.batchId()) && takenOnce.add(request.batchId())) {
            refusals++;
            return new Reply.Refused(new Problem(
                    409, ErrorCode.BATCH_ID_TAKEN.key(), "batch id belongs to another device", List.of(), -1, -1));
        }
        if (pushing && faults && request.changes().size() > batchChangesMax) {
            tooLarge++;
            return new Reply.Refused(
                    new Problem(413, ErrorCode.PAYLOAD_TOO_LARGE.key(), "the batch is too large", List.of(), -1, -1));
        }
        SyncResponse.Ack ack = null;
        if (pushing) {
            ack = batches.get(request.batchId());
            if (ack == null) {
                Problem refused = check(request);
                if (refused != null) {
                    return new Reply.Refused(refused);
                }
                int applied = apply(request.deviceId(), request.changes());
                batches.put(request.batchId(), new SyncResponse.Ack(request.batchId(), applied, false));
                ack = new SyncResponse.Ack(request.batchId(), applied, false);
            } else {
                ack = new SyncResponse.Ack(ack.batchId(), ack.applied(), true);
            }
        }
        if (fault == 4) {
            lostAnswers++;
            throw new DeviceException(ExitCode.UNREACHABLE, "link dropped after the server applied the batch");
        }
        if (pushing && fault == 5) {
            wrongAcks++;
            ack = new SyncResponse.Ack("someone-else-" + request.batchId(), ack.applied(), ack.duplicate());
        }
        int from = request.cursor() == null ? 0 : Integer.parseInt(request.cursor());
        int pageMax = fault == 6 ? 1 + random.nextInt(3) : request.pageSizeMax();
        if (fault == 6) {
            cutPages++;
        }
        List<Change> page = new ArrayList<>();
        int at = from;
        while (at < feed.size() && page.size() < pageMax) {
            if (!feedDevice.get(at).equals(request.deviceId())) {
                page.add(feed.get(at));
            }
            at++;
        }
        if (faults) {
            Collections.shuffle(page, random); // the device orders a page itself (parents first)
        }
        return new Reply.Accepted(new SyncResponse(
                ack, Integer.toString(at), at < feed.size(), timeMs.getAsLong(), List.of(), page, List.of()));
    }

    /** The whole batch is refused when any change is out of scope or stamped too far ahead. */
    private Problem check(SyncRequest request) {
        List<Problem.Refused> refused = new ArrayList<>();
        long now = timeMs.getAsLong();
        for (int i = 0; i < request.changes().size(); i++) {
            Change c = request.changes().get(i);
            ChangeValidator.validate(schema, c);
            if (!granted.contains(c.scope())) {
                refused.add(new Problem.Refused(i, ErrorCode.OUT_OF_SCOPE.key(), "scope " + c.scope()));
            } else if (c.clock().physicalMs() - now > SKEW_MAX_MS) {
                refused.add(new Problem.Refused(i, ErrorCode.CLOCK_SKEW.key(), "ahead"));
            }
        }
        if (refused.isEmpty()) {
            return null;
        }
        boolean skew = refused.stream().anyMatch(r -> r.code().equals(ErrorCode.CLOCK_SKEW.key()));
        // The service answers a refusal with a per-change list as 403, 409 or 422 by the first refusal's kind; the
        // device must go by the list, whatever the status.
        int status = skew ? 409 : faults && chance(2) ? 422 : 403;
        return new Problem(
                status,
                refused.getFirst().code(),
                refused.size() + " changes refused",
                refused,
                now,
                skew ? SKEW_MAX_MS : -1);
    }

    /** One in {@code n}. */
    private boolean chance(int n) {
        return random.nextInt(n) == 0;
    }

    private int apply(String deviceId, List<Change> changes) {
        int applied = 0;
        for (Change c : changes) {
            String key = c.table() + "/" + c.rowId();
            RowState row = rows.getOrDefault(key, RowState.empty(c.table(), c.rowId(), c.scope()));
            RowState merged = RowMerge.apply(schema.table(c.table()), row, c).row();
            rows.put(key, merged);
            feed.add(c);
            feedDevice.add(deviceId);
            accepted.computeIfAbsent(deviceId, d -> new ArrayList<>()).add(c);
            applied++;
        }
        return applied;
    }
}
