package dev.outpost.device.sync;

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
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.ChangeApplication;
import dev.outpost.model.merge.ClockRelabel;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.order.ApplyOrder;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * What a sync writes on the device, each step in one local transaction: batches made and forgotten, an answer's
 * acknowledgement with its pulled page and cursor, refused changes set aside, re-stamped clocks, and the sync's
 * completion. {@link SyncClient} decides; this applies.
 */
final class SyncLedger {
    private final String deviceId;
    private final Schema schema;
    private final Transactions tx;
    private final RowStates states;
    private final ChangeLog log;
    private final Settings settings;
    private final DeviceClock clock;
    private final WireCodec codec;
    private final LongSupplier wallMs;

    SyncLedger(
            String deviceId,
            Schema schema,
            Transactions tx,
            RowStates states,
            ChangeLog log,
            Settings settings,
            DeviceClock clock,
            WireCodec codec,
            LongSupplier wallMs) {
        this.deviceId = deviceId;
        this.schema = schema;
        this.tx = tx;
        this.states = states;
        this.log = log;
        this.settings = settings;
        this.clock = clock;
        this.codec = codec;
        this.wallMs = wallMs;
    }

    /** A sync ended well: when, no error, and bases only for rows whose changes the service has not accepted. */
    void completed() {
        tx.run(() -> {
            settings.put(
                    Setting.LAST_SYNC_AT,
                    Instant.ofEpochMilli(wallMs.getAsLong()).toString());
            settings.put(Setting.LAST_SYNC_ERROR, "");
            Set<String> unsent = new HashSet<>();
            for (LoggedChange l : log.findUnsent()) {
                Change c = codec.decodeChange(l.change());
                unsent.add(RowStates.key(c.table(), c.rowId()));
            }
            states.dropBasesExcept(unsent);
        });
    }

    /** A batch to push; {@code fresh} when it was made now, so no request has carried it yet. */
    record Batch(List<LoggedChange> changes, boolean fresh) {
        static final Batch NONE = new Batch(List.of(), false);
    }

    /**
     * The pending changes to push next: the unacknowledged batch if there is one (whole, as it was sent before), else
     * a new one of at most {@code changesMax} changes and {@link SyncClient#BATCH_BYTES_MAX} bytes.
     */
    Batch nextBatch(int changesMax) {
        return tx.inTransaction(() -> {
            List<LoggedChange> pending = log.findPending(changesMax);
            if (pending.isEmpty()) {
                return Batch.NONE;
            }
            String open = pending.getFirst().batchId();
            if (open != null) {
                return new Batch(log.findBatch(open), false);
            }
            List<LoggedChange> fresh = new ArrayList<>();
            long bytes = 0;
            for (LoggedChange l : pending) {
                if (l.batchId() != null) {
                    break;
                }
                bytes += l.change().length();
                if (!fresh.isEmpty() && bytes > SyncClient.BATCH_BYTES_MAX) {
                    break;
                }
                fresh.add(l);
            }
            String batchId = deviceId + "-" + UUID.randomUUID();
            log.assignBatch(fresh.stream().map(LoggedChange::seq).toList(), batchId);
            return new Batch(
                    fresh.stream()
                            .map(l -> new LoggedChange(l.seq(), l.change(), batchId, l.status(), l.code(), l.message()))
                            .toList(),
                    true);
        });
    }

    void forgetBatch(List<LoggedChange> batch) {
        tx.run(() -> log.clearBatch(batch.stream().map(LoggedChange::seq).toList()));
    }

    /**
     * Marks the pushed batch sent (it always goes out whole under its id, so an acknowledgement, new or duplicate,
     * covers all of it), applies the pulled page and stores the cursor, in one transaction; returns {orphans, changes
     * marked sent}.
     */
    int[] apply(List<LoggedChange> batch, SyncResponse response) {
        return apply(batch, response, false);
    }

    /**
     * Applies a backfill page (after a schema upgrade) as a pulled page, keeping its cursor apart from the pulls'; the
     * last page ends the backfill. Returns {orphans}.
     */
    int[] applyBackfill(SyncResponse response) {
        return apply(List.of(), response, true);
    }

    private int[] apply(List<LoggedChange> batch, SyncResponse response, boolean backfill) {
        return tx.inTransaction(() -> {
            List<LoggedChange> settled = batch;
            log.markSent(settled.stream().map(LoggedChange::seq).toList());
            boolean bases = states.hasBases();
            Hlc shared = clock.shared();
            for (LoggedChange l : settled) {
                Change c = codec.decodeChange(l.change());
                shared = Hlc.max(shared, c.clock());
                if (bases) {
                    states.advanceBase(c);
                }
            }
            for (Change c : response.changes()) {
                shared = Hlc.max(shared, c.clock());
            }
            clock.saveShared(shared);
            clock.noteServerTime(response.serverTimeMs(), DeviceClock.AHEAD_NOTICED_MS);
            List<Change> ordered = ApplyOrder.sort(schema, response.changes());
            ChangeApplication.Result result = ChangeApplication.apply(schema, ordered, states::get);
            if (!result.mismatches().isEmpty()) {
                ChangeApplication.ScopeMismatch m = result.mismatches().getFirst();
                throw new OutpostException(
                        ErrorCode.SCOPE_CHANGE,
                        "a pulled change puts " + m.key() + " in scope '" + m.given() + "'; here it is in '"
                                + m.rowScope() + "'");
            }
            HybridClock now = clock.current();
            for (Change c : ordered) {
                if (bases) {
                    states.advanceBase(c);
                }
                now.receive(c.clock());
            }
            Map<String, Boolean> present = new HashMap<>();
            result.rows()
                    .forEach((key, touched) -> present.put(
                            key,
                            !RowConflicts.isDeleted(schema.table(touched.after().table()), touched.after())));
            int orphans = ApplyOrder.findOrphans(
                            schema,
                            ordered,
                            (t, id) -> present.computeIfAbsent(
                                    RowStates.key(t, id),
                                    k -> states.get(t, id)
                                            .map(r -> !RowConflicts.isDeleted(schema.table(t), r))
                                            .orElse(false)))
                    .size();
            for (ChangeApplication.Touched touched : result.rows().values()) {
                if (touched.changed()) {
                    states.save(touched.after());
                }
            }
            states.pruneFeed();
            clock.save(now.last());
            if (!backfill) {
                settings.put(Setting.CURSOR, response.cursor());
            } else if (response.more()) {
                settings.put(Setting.BACKFILL_CURSOR, response.cursor());
            } else {
                settings.put(Setting.BACKFILL_FROM, "");
                settings.put(Setting.BACKFILL_CURSOR, "");
            }
            return new int[] {orphans, settled.size()};
        });
    }

    /**
     * Re-stamps every change this device has not had accepted whose clock runs past what the server accepts now, and
     * the rows that hold those clocks ({@link Restamp}), in one transaction; sets aside the batch's refusals of other
     * kinds. Returns {set aside, re-stamped}. The device's wall clock is then corrected by the offset the server's
     * time shows.
     */
    int[] restamp(List<LoggedChange> batch, Problem p) {
        return tx.inTransaction(() -> {
            int setAside = 0;
            for (Problem.Refused r : p.refused()) {
                if (!ErrorCode.CLOCK_SKEW.key().equals(r.code()) && r.index() >= 0 && r.index() < batch.size()) {
                    log.markRefused(batch.get(r.index()).seq(), r.code(), r.message());
                    setAside++;
                }
            }
            log.clearBatch(batch.stream().map(LoggedChange::seq).toList());
            List<LoggedChange> unsent = log.findUnsent();
            List<Change> decoded = new ArrayList<>(unsent.size());
            for (LoggedChange l : unsent) {
                decoded.add(codec.decodeChange(l.change()));
            }
            Restamp.Mapping mapping =
                    Restamp.plan(decoded, deviceId, p.serverTimeMs() + p.maxClockSkewMs(), clock.shared());
            Map<String, Change> rowsTouched = new LinkedHashMap<>();
            int restamped = 0;
            for (int i = 0; i < unsent.size(); i++) {
                Change c = decoded.get(i);
                Change moved = ClockRelabel.change(c, mapping::apply);
                if (moved.equals(c)) {
                    continue;
                }
                log.rewrite(unsent.get(i).seq(), codec.encodeChange(moved));
                rowsTouched.putIfAbsent(RowStates.key(c.table(), c.rowId()), c);
                restamped++;
            }
            for (Change c : rowsTouched.values()) {
                states.get(c.table(), c.rowId()).ifPresent(row -> states.save(ClockRelabel.row(row, mapping::apply)));
            }
            if (mapping.last() != null) {
                clock.save(mapping.last());
            }
            clock.noteServerTime(p.serverTimeMs(), 0);
            return new int[] {setAside, restamped};
        });
    }

    /** Sets the refused changes aside; the others get a new batch id on the next round. */
    int setAside(List<LoggedChange> batch, Problem p) {
        return tx.inTransaction(() -> {
            int n = 0;
            for (Problem.Refused r : p.refused()) {
                if (r.index() >= 0 && r.index() < batch.size()) {
                    log.markRefused(batch.get(r.index()).seq(), r.code(), r.message());
                    n++;
                }
            }
            if (n == 0) {
                throw SyncClient.refusedWhole(p);
            }
            log.clearBatch(batch.stream().map(LoggedChange::seq).toList());
            return n;
        });
    }

    void recordError(String message) {
        tx.run(() -> settings.put(Setting.LAST_SYNC_ERROR, message));
    }
}
