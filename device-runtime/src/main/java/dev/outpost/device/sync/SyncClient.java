package dev.outpost.device.sync;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.clock.DeviceClock;
import dev.outpost.device.rows.RowStates;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.device.store.ChangeLog.LoggedChange;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.faults.CrashPoints;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireLimits;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * One sync: pushes every pending change in batches and pulls every page, over a {@link SyncLink}.
 *
 * <ul>
 *   <li>A batch gets its id (stored) before it is sent and keeps it until the service's acknowledgement, which must
 *       name it, is committed locally: a lost answer or a crash resends the same batch, which the service applies
 *       once.
 *   <li>Batches hold at most {@link #BATCH_CHANGES_MAX} changes and {@link #BATCH_BYTES_MAX} bytes of encoded
 *       changes. A batch the service finds too large as a whole (413) is split: it loses its id and the next batches
 *       are half as large; a single change too large for the service is set aside as refused.
 *   <li>Refused changes (with the service's per-change list) are set aside with its code and message and the rest go
 *       out again under a new batch id; changes refused for clock skew are re-stamped once per sync.
 *   <li>A pulled page is applied in one transaction with the acknowledgement of the pushed batch and the new cursor,
 *       parents before children.
 * </ul>
 */
public final class SyncClient {
    public static final int BATCH_CHANGES_MAX = 500;
    /** Encoded bytes per pushed batch (the logged JSON form; the binary one sent is smaller). */
    public static final int BATCH_BYTES_MAX = 256 * 1024;

    public static final int PULL_PAGE_SIZE = 1_000;

    private final String deviceId;
    private final Schema schema;
    private final Transactions tx;
    private final ChangeLog log;
    private final Settings settings;
    private final SyncLink link;
    private final WireCodec codec;
    private final SyncLedger ledger;
    private Consumer<List<String>> assignments = a -> {};
    private Runnable afterSync = () -> {};

    public SyncClient(
            String deviceId,
            Schema schema,
            Transactions tx,
            RowStates states,
            ChangeLog log,
            Settings settings,
            DeviceClock clock,
            SyncLink link,
            LongSupplier wallMs) {
        this.deviceId = deviceId;
        this.schema = schema;
        this.tx = tx;
        this.log = log;
        this.settings = settings;
        this.link = link;
        this.codec = new WireCodec(schema, WireLimits.DEFAULT);
        this.ledger = new SyncLedger(deviceId, schema, tx, states, log, settings, clock, codec, wallMs);
    }

    /** Receives the model assignments of every answer, before the page is applied. */
    public SyncClient onAssignments(Consumer<List<String>> receiver) {
        this.assignments = receiver;
        return this;
    }

    /** Runs after a sync that completed (install reports written offline go out with it). */
    public SyncClient afterSync(Runnable action) {
        this.afterSync = action;
        return this;
    }

    /** Pushes every pending change and pulls every page. Exit 3 when the service cannot be reached (nothing lost). */
    public SyncResult sync() {
        Round round = new Round();
        ExecutorService fetcher = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "outpost-page-fetch");
            t.setDaemon(true);
            return t;
        });
        try {
            // Changes an earlier sync set aside for clock skew go out again: time has passed, or they are re-stamped.
            tx.inTransaction(() -> log.requeueRefused(ErrorCode.CLOCK_SKEW.key()));
            round.run(fetcher);
            ledger.completed();
        } catch (DeviceException e) {
            if (e.exitCode() == ExitCode.UNREACHABLE || e.exitCode() == ExitCode.REFUSED) {
                ledger.recordError(e.getMessage());
            }
            throw e;
        } catch (OutpostException e) {
            ledger.recordError(e.getMessage());
            throw new DeviceException(
                    ExitCode.UNREACHABLE, "the server's answer could not be read: " + e.getMessage(), e);
        } finally {
            fetcher.shutdownNow();
        }
        afterSync.run();
        SyncResult result = round.result();
        if (result.refused() > 0) {
            throw new SyncRefused(result);
        }
        return result;
    }

    /** The state of one sync: counts, the batch size in force, what was tried once. */
    private final class Round {
        int pushed, pulled, refused, opened, orphans, restamped, backfilled;
        /** The schema version the service says it runs (0 until it says). */
        int serverSchema;

        int batchMax = BATCH_CHANGES_MAX;
        boolean restampTried;
        boolean batchIdRenewed;
        /** Whether the batch in hand was made in this sync (never sent before): only such a batch is split. */
        boolean fresh;
        /** A refusal that stops pushes for the rest of this sync (pulls go on). */
        Problem pushHeld;

        SyncResult result() {
            return new SyncResult(pushed, pulled, refused, opened, orphans, restamped, backfilled, serverSchema);
        }

        /**
         * After a schema upgrade: pulls, with a cursor of its own from the start of the service's feed, what the old
         * schema could not hold, until the last page; a sync cut short goes on from where it stood.
         */
        void backfill() {
            String from =
                    tx.inTransaction(() -> settings.get(Setting.BACKFILL_FROM).orElse(""));
            if (from.isEmpty()) {
                return;
            }
            int version = Integer.parseInt(from);
            while (true) {
                String cursor = tx.inTransaction(() -> settings.get(Setting.BACKFILL_CURSOR)
                        .filter(c -> !c.isEmpty())
                        .orElse(null));
                SyncLink.Reply reply = link.exchange(
                        new SyncRequest(deviceId, schema.version(), null, cursor, PULL_PAGE_SIZE, List.of(), version));
                if (reply instanceof SyncLink.Reply.Accepted a) {
                    serverSchema = Math.max(serverSchema, a.schemaVersion());
                    orphans += ledger.applyBackfill(a.response())[0];
                    backfilled += a.response().changes().size();
                    if (!a.response().more()) {
                        return;
                    }
                } else if (reply instanceof SyncLink.Reply.Refused r) {
                    throw refusedWhole(r.problem());
                } else {
                    throw new DeviceException(
                            ExitCode.UNREACHABLE,
                            "the server failed (" + ((SyncLink.Reply.Failed) reply).status()
                                    + ") during the backfill after a schema upgrade; it goes on at the next sync");
                }
            }
        }

        void run(ExecutorService fetcher) {
            backfill();
            rebuilding = tx.inTransaction(() -> settings.get(Setting.REBUILD))
                    .filter("true"::equals)
                    .isPresent();
            // The next page, asked for while this one is applied, so the server's work and the device's overlap. Its
            // cursor is committed only with the page before it, so a crash in between asks for it again.
            CompletableFuture<SyncLink.Reply> nextPage = null;
            boolean more = true;
            while (true) {
                List<LoggedChange> batch;
                List<Change> pushing;
                SyncLink.Reply reply;
                if (nextPage != null) {
                    batch = List.of();
                    pushing = List.of();
                    reply = await(nextPage);
                    nextPage = null;
                } else {
                    SyncLedger.Batch next = pushHeld != null ? SyncLedger.Batch.NONE : ledger.nextBatch(batchMax);
                    batch = next.changes();
                    fresh = next.fresh();
                    if (batch.isEmpty() && !more) {
                        if (pushHeld != null) {
                            throw new DeviceException(
                                    ExitCode.REFUSED,
                                    "the server refuses the pending batch as too large (" + pushHeld.detail() + ");"
                                            + " it was sent before without an answer, so it is kept whole and sent"
                                            + " again at the next sync; everything was pulled");
                        }
                        if (rebuilding) {
                            // Everything, this device's own changes included, is back: pulls are as usual again.
                            tx.run(() -> settings.put(Setting.REBUILD, ""));
                        }
                        return;
                    }
                    pushing = batch.stream()
                            .map(l -> codec.decodeChange(l.change()))
                            .toList();
                    String cursor =
                            tx.inTransaction(() -> settings.get(Setting.CURSOR).orElse(null));
                    reply = link.exchange(
                            request(batch.isEmpty() ? null : batch.getFirst().batchId(), cursor, pushing));
                }
                // if/else rather than a pattern switch, which has a class generated at run time on every start.
                if (reply instanceof SyncLink.Reply.Accepted a) {
                    CrashPoints.reached("answered");
                    serverSchema = Math.max(serverSchema, a.schemaVersion());
                    SyncResponse response = a.response();
                    checkAcknowledged(batch, response);
                    if (response.more()) {
                        String cursor = response.cursor();
                        nextPage = CompletableFuture.supplyAsync(
                                () -> link.exchange(request(null, cursor, List.of())), fetcher);
                    }
                    assignments.accept(response.modelAssignments());
                    int[] applied = ledger.apply(batch, response);
                    CrashPoints.reached("pulled");
                    orphans += applied[0];
                    pushed += applied[1];
                    pulled += response.changes().size();
                    opened += response.conflicts().size();
                    more = response.more();
                } else if (reply instanceof SyncLink.Reply.Refused r) {
                    refusedBatch(batch, r.problem());
                } else {
                    throw new DeviceException(
                            ExitCode.UNREACHABLE,
                            "the server failed (" + ((SyncLink.Reply.Failed) reply).status()
                                    + "); nothing was lost, sync again later");
                }
            }
        }

        /** A refusal of the pushed batch: split, renew, set aside or re-stamp, so the sync can go on. */
        private void refusedBatch(List<LoggedChange> batch, Problem p) {
            if (batch.isEmpty()) {
                throw refusedWhole(p); // a pull itself was refused: the credential, the cursor, the schema version
            }
            if (p.refused().isEmpty()) {
                if (p.status() == 413 || ErrorCode.BATCH_TOO_LARGE.key().equals(p.code())) {
                    if (!fresh) {
                        // Sent before without an answer, so maybe applied under its id: split into new ids it
                        // could be applied twice. It stays whole for the next sync; this one only pulls.
                        pushHeld = p;
                        return;
                    }
                    if (batch.size() == 1) {
                        refused += tx.inTransaction(() -> {
                            log.markRefused(batch.getFirst().seq(), p.code(), p.detail());
                            return 1;
                        });
                    } else {
                        batchMax = Math.max(1, batch.size() / 2);
                        ledger.forgetBatch(batch); // never sent with an answer missing: the service applied none of it
                    }
                    return;
                }
                if (p.status() == 409 && ErrorCode.BATCH_ID_TAKEN.key().equals(p.code()) && !batchIdRenewed) {
                    // The id belongs to another device, so the service never applied it for this one: the same
                    // changes go out under a new id (once per sync).
                    batchIdRenewed = true;
                    ledger.forgetBatch(batch);
                    return;
                }
                throw refusedWhole(p);
            }
            if (!restampTried && canRestamp(p)) {
                // Once per sync: a second clock-skew answer (a server whose replicas disagree, say) sets the
                // changes aside instead, and the next sync tries again.
                restampTried = true;
                int[] done = ledger.restamp(batch, p);
                refused += done[0];
                restamped += done[1];
            } else {
                refused += ledger.setAside(batch, p);
            }
        }
    }

    static DeviceException refusedWhole(Problem p) {
        if (ErrorCode.UPGRADE_REQUIRED.key().equals(p.code())) {
            return new SchemaOutdated(p);
        }
        if (ErrorCode.CURSOR_BEHIND_HORIZON.key().equals(p.code())) {
            return new BehindHorizon(p);
        }
        return new DeviceException(ExitCode.REFUSED, "refused by the server: " + p.detail() + " [" + p.code() + "]");
    }

    /**
     * The service no longer serves this device's schema version: the device may upgrade itself when the service's
     * schema only adds to its own (nothing was changed locally).
     */
    public static final class SchemaOutdated extends DeviceException {
        SchemaOutdated(Problem p) {
            super(ExitCode.REFUSED, "refused by the server: " + p.detail() + " [" + p.code() + "]");
        }
    }

    /**
     * The service compacted the feed past this device's cursor (it slept past the idle period, or never pulled):
     * the device installs its scopes' snapshots over what it holds, keeping its pending changes, and syncs again.
     */
    public static final class BehindHorizon extends DeviceException {
        BehindHorizon(Problem p) {
            super(ExitCode.REFUSED, "refused by the server: " + p.detail() + " [" + p.code() + "]");
        }
    }

    private SyncRequest request(String batchId, String cursor, List<Change> changes) {
        return new SyncRequest(deviceId, schema.version(), batchId, cursor, PULL_PAGE_SIZE, changes, 0, rebuilding);
    }

    /** Whether this sync's pulls ask for the device's own changes too (a rebuilt database: {@link Setting#REBUILD}). */
    private volatile boolean rebuilding;

    /**
     * The acknowledgement must name the batch that was sent: marking changes sent on another batch's answer (a
     * proxy's cached answer, a server bug) would lose them.
     */
    private static void checkAcknowledged(List<LoggedChange> batch, SyncResponse response) {
        if (batch.isEmpty()) {
            return;
        }
        String sent = batch.getFirst().batchId();
        if (response.ack() == null || !sent.equals(response.ack().batchId())) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE,
                    "the server's answer acknowledges "
                            + (response.ack() == null
                                    ? "no batch"
                                    : "batch '" + response.ack().batchId() + "'")
                            + ", not the batch '" + sent
                            + "' that was sent; nothing was marked sent, sync again later");
        }
    }

    /** The reply a background fetch got, or what it failed with. */
    private static SyncLink.Reply await(CompletableFuture<SyncLink.Reply> page) {
        try {
            return page.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** A clock-skew refusal that says the server's time and how far ahead it accepts. */
    private static boolean canRestamp(Problem p) {
        return p.serverTimeMs() > 0
                && p.maxClockSkewMs() >= 0
                && p.refused().stream().anyMatch(r -> ErrorCode.CLOCK_SKEW.key().equals(r.code()));
    }
}
