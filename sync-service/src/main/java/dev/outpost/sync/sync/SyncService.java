package dev.outpost.sync.sync;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.faults.CrashPoints;
import dev.outpost.model.merge.ChangeApplication;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.merge.RowGc;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.artifact.ArtifactService;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.Replica;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.store.Cursor;
import dev.outpost.sync.store.DataTables;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.store.SyncStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One sync round trip: checks a pushed batch as a whole (schema, scopes, clocks), applies it in one PostgreSQL
 * transaction with its batch id (a retry gets the same answer and changes nothing), then serves a page of the
 * feed after the device's cursor, without the device's own changes.
 */
@ApplicationScoped
public class SyncService {
    /** Serialization failures and deadlocks are retried this many times before the device is told to retry. */
    private static final int TRANSACTION_TRIES = 4;

    /** Who server batches are applied as; their changes are stamped by {@code server.<replica id>}. */
    public static final String SERVER_DEVICE_ID = "server";

    /** Whether a clock's node id is one of the service's replicas (never a device: such ids are not registered). */
    public static boolean isServerNode(String nodeId) {
        return nodeId.equals(SERVER_DEVICE_ID) || nodeId.startsWith(SERVER_DEVICE_ID + ".");
    }

    private final SyncStore store;
    private final SchemaRegistry schemas;
    private final OutpostConfig config;
    private final RowStateCodec rowCodec;
    private final HybridClock serverClock;
    private final Counter batches;
    private final Counter changesApplied;
    private final Counter conflictsOpened;
    private final Counter changesServed;
    private final ArtifactService artifacts;
    private final DataTables data;

    public SyncService(
            SyncStore store,
            SchemaRegistry schemas,
            OutpostConfig config,
            MeterRegistry metrics,
            ArtifactService artifacts,
            DataTables data,
            Replica replica) {
        this.store = store;
        this.data = data;
        this.artifacts = artifacts;
        this.schemas = schemas;
        this.config = config;
        this.rowCodec = new RowStateCodec(schemas.current());
        this.serverClock = new HybridClock(SERVER_DEVICE_ID + "." + replica.id(), System::currentTimeMillis, null);
        this.batches = metrics.counter("outpost.sync.batches");
        this.changesApplied = metrics.counter("outpost.sync.changes.applied");
        this.conflictsOpened = metrics.counter("outpost.sync.conflicts.opened");
        this.changesServed = metrics.counter("outpost.sync.changes.served");
    }

    /**
     * A reading for a server write to {@code row}: after every clock the row holds as read, as well as after every
     * batch this replica applied. Another replica may have applied the row's latest writes (stamped ahead of this
     * replica's wall clock, within the allowed skew); the office's write still orders after what it saw.
     */
    public synchronized Hlc serverNowAfter(dev.outpost.model.merge.RowState row) {
        if (row != null && row.clock() != null) {
            serverClock.receive(row.clock());
        }
        return serverClock.now();
    }

    public Uni<SyncResponse> sync(DeviceRecord device, SyncRequest request) {
        if (!request.deviceId().equals(device.id())) {
            throw new Problem(
                    ErrorCode.DEVICE_MISMATCH,
                    "request names device '" + request.deviceId() + "' but the credential is for '" + device.id()
                            + "'");
        }
        if (request.batchId() != null
                && (request.batchId().isEmpty()
                        || request.batchId().length() > 128
                        || dev.outpost.model.change.ChangeValidator.hasNul(request.batchId()))) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "a batch id is 1-128 characters, none of them NUL");
        }
        Schema deviceSchema = schemas.forDevice(request.schemaVersion());
        Cursor cursor = Cursor.parse(request.cursor());
        int pageSize = request.pageSizeMax() <= 0
                ? config.sync().pageSizeDefault()
                : Math.min(request.pageSizeMax(), config.sync().pageSizeMax());
        Uni<Applied> push = request.changes().isEmpty()
                ? Uni.createFrom().item(Applied.NONE)
                : apply(device, request.batchId(), request.changes());
        boolean backfill = request.backfillFrom() > 0;
        // A backfill for a version no longer served sends everything again: the device's merge takes it as it is.
        Predicate<Change> wanted = backfill
                ? schemas.served(request.backfillFrom())
                        .<Predicate<Change>>map(old -> c -> beyond(old, c))
                        .orElse(c -> true)
                : c -> true;
        return push.flatMap(applied -> pull(device, deviceSchema, cursor, pageSize, wanted, request.rebuild())
                .flatMap(page -> Uni.combine()
                        .all()
                        .unis(
                                artifacts.assignmentsFor(device),
                                // A backfill's cursor is not where the device's pulls stand.
                                backfill
                                        ? Uni.createFrom().voidItem()
                                        : store.touchDevice(device.id(), request.schemaVersion(), cursor))
                        .with((assignments, touched) -> new SyncResponse(
                                applied.ack(),
                                page.cursor().toString(),
                                page.more(),
                                System.currentTimeMillis(),
                                assignments,
                                page.changes(),
                                applied.opened()))));
    }

    /** What a push did. */
    public record Applied(SyncResponse.Ack ack, List<Conflict> opened) {
        static final Applied NONE = new Applied(null, List.of());
    }

    /**
     * Checks then applies a batch. The whole batch is refused (nothing applied) when any change is invalid, out of
     * the device's scopes, not the device's own, or stamped too far ahead; the answer lists every refused change.
     */
    public Uni<Applied> apply(DeviceRecord device, String batchId, List<Change> changes) {
        return apply(device, batchId, changes, device.id());
    }

    /**
     * As {@link #apply(DeviceRecord, String, List)}, recording {@code actor} as who closed any conflict. A batch id
     * applied before is answered from what it did then, before the batch is checked again: a retry whose first answer
     * was lost must get that answer (its changes applied once), even when the check would now refuse it (a scope
     * revoked meanwhile, say); refused then, the device would set aside changes the server holds.
     */
    public Uni<Applied> apply(DeviceRecord device, String batchId, List<Change> changes, String actor) {
        return apply(device, batchId, changes, actor, tx -> Uni.createFrom().voidItem());
    }

    /** As above, running {@code alsoInTx} in the batch's transaction (after the batch, also for a duplicate). */
    public Uni<Applied> apply(
            DeviceRecord device,
            String batchId,
            List<Change> changes,
            String actor,
            Function<SqlConnection, Uni<Void>> alsoInTx) {
        return applyChecked(device, actor, batchId, changes, alsoInTx, 1);
    }

    /** The answer a batch applied before gets again: its acknowledgement and the conflicts it opened. */
    private Applied duplicate(String deviceId, String batchId, SyncStore.ClaimedBatch claimed) {
        if (!claimed.deviceId().equals(deviceId)) {
            throw new Problem(ErrorCode.BATCH_ID_TAKEN, "batch id '" + batchId + "' belongs to another device");
        }
        List<Conflict> opened =
                claimed.conflictsJson() == null ? List.of() : schemas.codec().decodeConflicts(claimed.conflictsJson());
        return new Applied(new SyncResponse.Ack(batchId, claimed.applied(), true), opened);
    }

    private void check(DeviceRecord device, List<Change> changes) {
        Schema schema = schemas.current();
        long now = System.currentTimeMillis();
        long skewMax = config.sync().maxClockSkew().toMillis();
        List<Map<String, Object>> refused = new ArrayList<>();
        ErrorCode first = null;
        long aheadMax = 0;
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            ErrorCode code = null;
            String message = null;
            try {
                ChangeValidator.validate(schema, c);
                if (!device.id().equals(SERVER_DEVICE_ID) && !c.deviceId().equals(device.id())) {
                    code = ErrorCode.DEVICE_MISMATCH;
                    message = "change " + i + " is stamped by device '" + c.deviceId()
                            + "': a device pushes only its own changes";
                } else if (!device.id().equals(SERVER_DEVICE_ID) && !device.mayAccess(c.scope())) {
                    code = ErrorCode.OUT_OF_SCOPE;
                    message = c.table() + "/" + c.rowId() + " is in scope '" + c.scope()
                            + "', not granted to this device";
                } else if (c.clock().physicalMs() - now > skewMax) {
                    code = ErrorCode.CLOCK_SKEW;
                    aheadMax = Math.max(aheadMax, c.clock().physicalMs() - now);
                    message = "change " + i + " is stamped " + (c.clock().physicalMs() - now)
                            + " ms ahead of the server clock";
                }
            } catch (OutpostException e) {
                code = e.code();
                message = e.getMessage();
            }
            if (code != null) {
                first = first == null ? code : first;
                refused.add(Map.of("index", i, "code", code.key(), "message", message));
            }
        }
        if (first == null) {
            return;
        }
        // One status for the whole answer, by precedence: authorization before clocks before validation.
        ErrorCode overall = refused.stream().anyMatch(r -> r.get("code").equals(ErrorCode.OUT_OF_SCOPE.key()))
                ? ErrorCode.OUT_OF_SCOPE
                : refused.stream().anyMatch(r -> r.get("code").equals(ErrorCode.DEVICE_MISMATCH.key()))
                        ? ErrorCode.DEVICE_MISMATCH
                        : aheadMax > 0 ? ErrorCode.CLOCK_SKEW : first;
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("refused", refused);
        details.put("serverTimeMs", now);
        if (aheadMax > 0) {
            details.put("clockAheadMs", aheadMax);
            details.put("maxClockSkewMs", skewMax);
        }
        throw new Problem(
                overall,
                refused.size() + " of " + changes.size() + " changes refused (first: "
                        + refused.getFirst().get("message") + "); nothing of the batch was applied",
                details);
    }

    /**
     * Claims the batch id, then checks and applies the batch, in one transaction. The id is claimed first, so that a
     * batch applied before is answered from what it did without being checked again (and a failed check rolls the
     * claim back with everything else).
     */
    private Uni<Applied> applyChecked(
            DeviceRecord device,
            String actor,
            String batchId,
            List<Change> changes,
            Function<SqlConnection, Uni<Void>> alsoInTx,
            int attempt) {
        String deviceId = device.id();
        return store.pool()
                .withTransaction(tx -> store.claimBatch(tx, batchId, deviceId).flatMap(claimed -> {
                    if (claimed.isPresent()) {
                        Applied again = duplicate(deviceId, batchId, claimed.get());
                        return alsoInTx.apply(tx).replaceWith(again);
                    }
                    check(device, changes);
                    // Optimistic first (no row locks); a batch that met a concurrent write runs again with locks.
                    return store.readRows(tx, changes, attempt > 1).flatMap(rows -> {
                        Merged merged = merge(deviceId, rows, changes);
                        return store.writeRows(tx, merged.writes())
                                .flatMap(x -> data.write(tx, merged.typed()))
                                .flatMap(x -> store.appendFeed(tx, merged.feed()))
                                .flatMap(x -> store.upsertOpenConflicts(
                                        tx, merged.opened(), merged.conflictScopes(), merged.conflictJson()))
                                .flatMap(x -> store.closeConflicts(tx, merged.closed(), actor))
                                .flatMap(x -> store.recordApplied(
                                        tx,
                                        batchId,
                                        merged.applied(),
                                        merged.opened().isEmpty()
                                                ? null
                                                : schemas.codec().encodeConflicts(merged.opened())))
                                .flatMap(x -> {
                                    CrashPoints.reached("batch-written");
                                    return alsoInTx.apply(tx);
                                })
                                .map(x -> new Applied(
                                        new SyncResponse.Ack(batchId, merged.applied(), false), merged.opened()));
                    });
                }))
                .invoke(applied -> {
                    CrashPoints.reached("batch-committed");
                    if (!applied.ack().duplicate()) {
                        batches.increment();
                        changesApplied.increment(applied.ack().applied());
                        conflictsOpened.increment(applied.opened().size());
                        receive(changes);
                    }
                })
                .onFailure(SyncService::retriable)
                .recoverWithUni(e -> {
                    if (attempt >= TRANSACTION_TRIES) {
                        return Uni.createFrom()
                                .failure(
                                        new Problem(
                                                ErrorCode.UNAVAILABLE,
                                                "the database stayed too busy to apply the batch; retry it with the same batch id"));
                    }
                    return Uni.createFrom()
                            .voidItem()
                            .onItem()
                            .delayIt()
                            .by(Duration.ofMillis(5L * attempt * attempt))
                            .flatMap(x -> applyChecked(device, actor, batchId, changes, alsoInTx, attempt + 1));
                });
    }

    private synchronized void receive(List<Change> changes) {
        Hlc max = null;
        for (Change c : changes) {
            max = Hlc.max(max, c.clock());
        }
        if (max != null) {
            serverClock.receive(max);
        }
    }

    /**
     * Serialization failure (40001), deadlock (40P01) and a row created or changed by a concurrent batch: the
     * transaction can run again.
     */
    private static boolean retriable(Throwable e) {
        return e instanceof SyncStore.ConcurrentWrite
                || e instanceof PgException pg
                        && ("40001".equals(pg.getSqlState()) || "40P01".equals(pg.getSqlState()));
    }

    private record Merged(
            List<SyncStore.RowWrite> writes,
            List<DataTables.TypedRow> typed,
            List<SyncStore.FeedEntry> feed,
            int applied,
            List<Conflict> opened,
            List<Conflict> closed,
            Map<Conflict, String> conflictScopes,
            Map<Conflict, String> conflictJson) {}

    /** The in-memory part of applying a batch: the shared merge ({@link ChangeApplication}) over the read rows. */
    private Merged merge(String deviceId, Map<String, SyncStore.StoredRow> stored, List<Change> changes) {
        Schema schema = schemas.current();
        WireCodec codec = schemas.codec();
        ChangeApplication.Result result = ChangeApplication.apply(schema, changes, (table, id) -> {
            SyncStore.StoredRow row = stored.get(SyncStore.key(table, id));
            return row == null
                    ? java.util.Optional.empty()
                    : java.util.Optional.of(rowCodec.decode(row.table(), row.id(), row.scope(), row.state()));
        });
        if (!result.mismatches().isEmpty()) {
            List<Map<String, Object>> refused = new ArrayList<>();
            for (ChangeApplication.ScopeMismatch m : result.mismatches()) {
                refused.add(Map.of(
                        "index",
                        m.index(),
                        "code",
                        ErrorCode.SCOPE_CHANGE.key(),
                        "message",
                        m.key() + " is in scope '" + m.rowScope() + "'; a row never changes scope"));
            }
            throw new Problem(
                    ErrorCode.SCOPE_CHANGE,
                    refused.size() + " of " + changes.size() + " changes refused (first: "
                            + refused.getFirst().get("message") + "); nothing of the batch was applied",
                    Map.of("refused", refused, "serverTimeMs", System.currentTimeMillis()));
        }
        Map<String, List<Change>> feedByScope = new LinkedHashMap<>();
        for (Change c : result.effective()) {
            feedByScope.computeIfAbsent(c.scope(), s -> new ArrayList<>()).add(c);
        }
        List<SyncStore.RowWrite> writes = new ArrayList<>();
        List<DataTables.TypedRow> typed = new ArrayList<>();
        List<Conflict> opened = new ArrayList<>();
        List<Conflict> closed = new ArrayList<>();
        Map<Conflict, String> scopes = new HashMap<>();
        Map<Conflict, String> json = new HashMap<>();
        // Tombstones stamped before the retry window (and the clock skew allowed) guard against nothing: a change they
        // name reached the service before the change that made them, and a copy of it sent again is answered from its
        // batch id within the window (docs/operations.md, "Tombstones").
        long stableMs = System.currentTimeMillis()
                - config.retention().batchRetryWindow().toMillis()
                - config.sync().maxClockSkew().toMillis();
        for (ChangeApplication.Touched touched : result.rows().values()) {
            if (!touched.changed()) {
                continue;
            }
            RowState now = RowGc.collect(touched.after(), stableMs);
            Table table = schema.table(now.table());
            ChangeApplication.Conflicts conflicts = touched.conflicts(table);
            for (Conflict c : conflicts.opened()) {
                opened.add(c);
                scopes.put(c, now.scope());
                json.put(c, codec.encodeConflicts(List.of(c)));
            }
            closed.addAll(conflicts.closed());
            SyncStore.StoredRow was = stored.get(SyncStore.key(now.table(), now.id()));
            boolean deleted = RowConflicts.isDeleted(table, now);
            writes.add(new SyncStore.RowWrite(
                    now.table(),
                    now.id(),
                    now.scope(),
                    rowCodec.encodeBinary(now),
                    deleted,
                    conflicts.open(),
                    was != null ? was.version() : null));
            typed.add(data.row(now, deleted, conflicts.open()));
        }
        List<SyncStore.FeedEntry> feed = new ArrayList<>(feedByScope.size());
        feedByScope.forEach((scope, list) ->
                feed.add(new SyncStore.FeedEntry(scope, deviceId, codec.encodeStored(list), list.size())));
        return new Merged(writes, typed, feed, result.effective().size(), opened, closed, scopes, json);
    }

    /** A page of the feed as the device will see it. */
    public record Page(List<Change> changes, Cursor cursor, boolean more) {}

    public Uni<Page> pull(DeviceRecord device, Schema deviceSchema, Cursor after, int pageSize) {
        return pull(device, deviceSchema, after, pageSize, c -> true);
    }

    /** As {@link #pull(DeviceRecord, Schema, Cursor, int)}, serving only the (adapted) changes {@code wanted} keeps. */
    public Uni<Page> pull(
            DeviceRecord device, Schema deviceSchema, Cursor after, int pageSize, Predicate<Change> wanted) {
        return pull(device, deviceSchema, after, pageSize, wanted, false);
    }

    /** As above; {@code echoOwn}: the device's own changes too (a device rebuilding its database). */
    public Uni<Page> pull(
            DeviceRecord device,
            Schema deviceSchema,
            Cursor after,
            int pageSize,
            Predicate<Change> wanted,
            boolean echoOwn) {
        WireCodec codec = schemas.codec();
        return store.readFeed(device.scopes(), after, pageSize).map(page -> {
            page.horizons().forEach((scope, horizon) -> {
                if (after.compareTo(horizon) < 0) {
                    throw new Problem(
                            ErrorCode.CURSOR_BEHIND_HORIZON,
                            "the feed of scope '" + scope + "' is compacted up to " + horizon + " and cursor '"
                                    + after + "' is behind it: install the scope's snapshot (GET /v1/snapshots) and"
                                    + " pull from its cursor");
                }
            });
            List<Change> out = new ArrayList<>();
            Cursor last = after;
            int budget = pageSize;
            for (SyncStore.FeedRow r : page.rows()) {
                if (budget == 0) {
                    break;
                }
                boolean resumed = after.inside() && r.xid() == after.xid() && r.pos() == after.pos();
                int from = resumed ? Math.min(after.taken(), r.n()) : 0;
                int to = from + Math.min(r.n() - from, budget);
                budget -= to - from;
                last = to == r.n() ? new Cursor(r.xid(), r.pos()) : new Cursor(r.xid(), r.pos(), to);
                if ((!echoOwn && r.deviceId().equals(device.id())) || to <= from) {
                    continue; // a device's own changes are not echoed, unless it is rebuilding
                }
                for (Change stored : entry(codec, r).subList(from, to)) {
                    adaptTo(deviceSchema, stored).filter(wanted).ifPresent(out::add);
                }
            }
            boolean more = budget == 0;
            Cursor next = last;
            if (!more) {
                // Everything in this device's scopes from transactions older than the watermark has been read.
                Cursor watermark = new Cursor(page.watermarkXid(), 0);
                next = watermark.compareTo(last) > 0 ? watermark : last;
            }
            changesServed.increment(out.size());
            return new Page(out, next, more);
        });
    }

    /** The changes of one feed entry. */
    private static List<Change> entry(WireCodec codec, SyncStore.FeedRow r) {
        try {
            List<Change> changes =
                    r.changes() != null ? codec.decodeStored(r.changes()) : List.of(codec.decodeChange(r.change()));
            if (changes.size() != r.n()) {
                throw new OutpostException(
                        ErrorCode.MALFORMED_PAYLOAD, "it holds " + changes.size() + " changes, not " + r.n());
            }
            return changes;
        } catch (OutpostException e) {
            // The feed is ours: an unreadable entry is a server fault, never the device's bad input.
            throw new IllegalStateException(
                    "feed entry " + r.xid() + ":" + r.pos() + " is unreadable: " + e.getMessage(), e);
        }
    }

    /**
     * Whether a device on schema {@code old} could not hold all of {@code c}: it is to a table or field {@code old}
     * lacks, or it deletes a row having seen fields {@code old} lacks (a device upgraded from {@code old} got the
     * delete without them, and needs them to weigh later updates of those fields against it).
     */
    static boolean beyond(Schema old, Change c) {
        var table = old.getTable(c.table());
        if (table.isEmpty()) {
            return true;
        }
        if (c.field() != null) {
            return table.get().getColumn(c.field()).isEmpty();
        }
        return c.op() instanceof dev.outpost.model.change.Op.Delete d
                && !table.get().columns().keySet().containsAll(d.seen().keySet());
    }

    /**
     * The change as a device on {@code schema} can read it: changes to tables and fields its (older) schema lacks
     * are left out, and a delete only lists the fields it knows.
     */
    static java.util.Optional<Change> adaptTo(Schema schema, Change c) {
        var table = schema.getTable(c.table());
        if (table.isEmpty()) {
            return java.util.Optional.empty();
        }
        if (c.field() != null) {
            return table.get().getColumn(c.field()).isPresent() ? java.util.Optional.of(c) : java.util.Optional.empty();
        }
        if (c.op() instanceof dev.outpost.model.change.Op.Delete d
                && !table.get().columns().keySet().containsAll(d.seen().keySet())) {
            var seen = new java.util.TreeMap<>(d.seen());
            seen.keySet().retainAll(table.get().columns().keySet());
            return java.util.Optional.of(new Change(
                    c.table(), c.rowId(), c.scope(), null, new dev.outpost.model.change.Op.Delete(seen), c.clock()));
        }
        return java.util.Optional.of(c);
    }
}
