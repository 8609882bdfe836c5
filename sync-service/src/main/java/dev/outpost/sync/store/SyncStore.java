package dev.outpost.sync.store;

import dev.outpost.model.change.Change;
import dev.outpost.model.merge.Conflict;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The sync tables through the reactive PostgreSQL client. Methods taking a connection run inside the caller's
 * transaction; the others use the pool. Batched statements use {@code unnest} over arrays, so a batch of any size
 * is a fixed number of round trips.
 */
@ApplicationScoped
public class SyncStore {
    private final Pool pool;

    public SyncStore(Pool pool) {
        this.pool = pool;
    }

    public Pool pool() {
        return pool;
    }

    /** A device found by its credential, and whether that credential's lifetime is over. */
    public record Credential(DeviceRecord device, boolean expired) {}

    /**
     * The device whose current token hashes to {@code hash}, or whose token a rotation replaced less than the grace
     * ago (see {@code DeviceRegistry.rotate}).
     */
    public Uni<Optional<Credential>> findDeviceByTokenHash(byte[] hash) {
        return pool.preparedQuery("select id, scopes, revoked_at is not null as revoked,"
                        + " coalesce(token_expires_at < now(), false) as expired from device"
                        + " where token_hash = $1 or (previous_token_hash = $1 and previous_token_until > now())")
                .execute(Tuple.of(io.vertx.core.buffer.Buffer.buffer(hash)))
                .map(rows -> {
                    var it = rows.iterator();
                    if (!it.hasNext()) {
                        return Optional.empty();
                    }
                    Row r = it.next();
                    return Optional.of(new Credential(
                            new DeviceRecord(
                                    r.getString("id"),
                                    Arrays.asList(r.getArrayOfStrings("scopes")),
                                    r.getBoolean("revoked")),
                            r.getBoolean("expired")));
                });
    }

    /**
     * What happened to a batch id before: {@code empty} if it is new (and now claimed by this transaction).
     *
     * @param conflictsJson the conflicts its first answer carried (WireCodec JSON), or null for none
     */
    public record ClaimedBatch(String deviceId, int applied, String conflictsJson) {}

    public Uni<Optional<ClaimedBatch>> claimBatch(SqlConnection tx, String batchId, String deviceId) {
        return tx.preparedQuery(
                        "insert into sync_batch (batch_id, device_id, applied) values ($1, $2, 0) on conflict (batch_id) do nothing returning batch_id")
                .execute(Tuple.of(batchId, deviceId))
                .flatMap(inserted -> inserted.size() == 1
                        ? Uni.createFrom().item(Optional.<ClaimedBatch>empty())
                        : tx.preparedQuery("select device_id, applied, conflicts from sync_batch where batch_id = $1")
                                .execute(Tuple.of(batchId))
                                .map(rows -> {
                                    Row r = rows.iterator().next();
                                    return Optional.of(new ClaimedBatch(
                                            r.getString("device_id"),
                                            r.getInteger("applied"),
                                            r.getString("conflicts")));
                                }));
    }

    /** Records what the batch did: how many changes it applied and the conflicts it opened (JSON, or null). */
    public Uni<Void> recordApplied(SqlConnection tx, String batchId, int applied, String conflictsJson) {
        return tx.preparedQuery("update sync_batch set applied = $2, conflicts = $3 where batch_id = $1")
                .execute(Tuple.of(batchId, applied, conflictsJson))
                .replaceWithVoid();
    }

    /**
     * A stored row: its state (RowStateCodec, either form), scope, and version (the id of the transaction that wrote
     * it, {@code xmin}: what an optimistic write checks).
     */
    public record StoredRow(String table, String id, String scope, byte[] state, String version) {}

    /**
     * Reads the existing rows the changes touch, keyed by {@code table/id}; rows that do not exist yet are absent
     * ({@link #writeRows} creates them). With {@code lock}, the rows are locked for the rest of the transaction, in
     * (table, id) order to keep deadlocks rare: {@link #writeRows} then cannot find them changed. Without, nothing is
     * locked and {@link #writeRows} fails with {@link ConcurrentWrite} if another transaction changed one meanwhile:
     * one row operation fewer for every existing row, which pays when batches rarely touch the same rows at once.
     */
    public Uni<Map<String, StoredRow>> readRows(SqlConnection tx, List<Change> changes, boolean lock) {
        Map<String, Change> firstByRow = new LinkedHashMap<>();
        for (Change c : changes) {
            firstByRow.putIfAbsent(key(c.table(), c.rowId()), c);
        }
        List<Change> rowsTouched = List.copyOf(firstByRow.values());
        return tx.preparedQuery("select r.tbl, r.id, r.scope, r.state, r.xmin::text as version "
                        + "from unnest($1::text[], $2::text[]) as u(tbl, id) join row_state r on r.tbl = u.tbl and r.id = u.id"
                        + (lock ? " order by r.tbl, r.id for update of r" : ""))
                .execute(Tuple.tuple()
                        .addArrayOfString(strings(rowsTouched, Change::table))
                        .addArrayOfString(strings(rowsTouched, Change::rowId)))
                .map(rows -> {
                    Map<String, StoredRow> out = new LinkedHashMap<>();
                    for (Row r : rows) {
                        StoredRow s = new StoredRow(
                                r.getString("tbl"),
                                r.getString("id"),
                                r.getString("scope"),
                                r.getBuffer("state").getBytes(),
                                r.getString("version"));
                        out.put(key(s.table(), s.id()), s);
                    }
                    return out;
                });
    }

    /**
     * A row after the batch: new state (RowStateCodec's binary form), what queries need from it, and the version it
     * was merged from ({@code null} for a row the batch creates).
     */
    public record RowWrite(
            String table, String id, String scope, byte[] state, boolean deleted, int openConflicts, String version) {
        boolean created() {
            return version == null;
        }
    }

    /**
     * Another transaction created a row this batch also creates, or changed one it merged into, between our read and
     * our write. The batch runs again (locking what it reads) and merges with that.
     */
    public static final class ConcurrentWrite extends RuntimeException {
        ConcurrentWrite(String what) {
            super(what, null, false, false);
        }
    }

    /**
     * Updates existing rows, each only if still at the version it was merged from, and inserts new ones;
     * {@link ConcurrentWrite} if a row changed or appeared meanwhile.
     */
    public Uni<Void> writeRows(SqlConnection tx, List<RowWrite> writes) {
        // In (table, id) order, as rows are locked when read with locks: two batches wait rather than deadlock.
        List<RowWrite> updates = writes.stream()
                .filter(w -> !w.created())
                .sorted(java.util.Comparator.comparing(RowWrite::table).thenComparing(RowWrite::id))
                .toList();
        List<RowWrite> inserts = writes.stream().filter(RowWrite::created).toList();
        return update(tx, updates).flatMap(x -> insert(tx, inserts));
    }

    private Uni<Void> update(SqlConnection tx, List<RowWrite> writes) {
        if (writes.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return tx.preparedQuery(
                        "update row_state r set state = u.state, deleted = u.deleted, open_conflicts = u.oc, updated_at = now() "
                                + "from unnest($1::text[], $2::text[], $3::bytea[], $4::bool[], $5::int[], $6::text[]) as u(tbl, id, state, deleted, oc, v) "
                                + "where r.tbl = u.tbl and r.id = u.id and r.xmin = u.v::xid")
                .execute(Tuple.tuple()
                        .addArrayOfString(strings(writes, RowWrite::table))
                        .addArrayOfString(strings(writes, RowWrite::id))
                        .addValue(states(writes))
                        .addArrayOfBoolean(
                                writes.stream().map(RowWrite::deleted).toArray(Boolean[]::new))
                        .addArrayOfInteger(
                                writes.stream().map(RowWrite::openConflicts).toArray(Integer[]::new))
                        .addArrayOfString(strings(writes, RowWrite::version)))
                .map(result -> {
                    if (result.rowCount() != writes.size()) {
                        throw new ConcurrentWrite("a row was changed concurrently");
                    }
                    return null;
                });
    }

    private Uni<Void> insert(SqlConnection tx, List<RowWrite> writes) {
        if (writes.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return tx.preparedQuery("insert into row_state (tbl, id, scope, state, deleted, open_conflicts) "
                        + "select * from unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bool[], $6::int[]) "
                        + "order by 1, 2 on conflict do nothing")
                .execute(Tuple.tuple()
                        .addArrayOfString(strings(writes, RowWrite::table))
                        .addArrayOfString(strings(writes, RowWrite::id))
                        .addArrayOfString(strings(writes, RowWrite::scope))
                        .addValue(states(writes))
                        .addArrayOfBoolean(
                                writes.stream().map(RowWrite::deleted).toArray(Boolean[]::new))
                        .addArrayOfInteger(
                                writes.stream().map(RowWrite::openConflicts).toArray(Integer[]::new)))
                .map(result -> {
                    if (result.rowCount() != writes.size()) {
                        throw new ConcurrentWrite("a row was created concurrently");
                    }
                    return null;
                });
    }

    /** The states of the writes, as a bytea array for {@code unnest}. */
    private static io.vertx.core.buffer.Buffer[] states(List<RowWrite> writes) {
        var out = new io.vertx.core.buffer.Buffer[writes.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = io.vertx.core.buffer.Buffer.buffer(writes.get(i).state());
        }
        return out;
    }

    /** One column of a batched statement: {@code f} of every item, as a text array for {@code unnest}. */
    private static <T> String[] strings(List<T> items, java.util.function.Function<T, String> f) {
        return items.stream().map(f).toArray(String[]::new);
    }

    /** One feed entry: what one transaction applied in one scope, in the stored binary form, {@code n} changes. */
    public record FeedEntry(String scope, String deviceId, byte[] changes, int n) {}

    public Uni<Void> appendFeed(SqlConnection tx, List<FeedEntry> entries) {
        if (entries.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        List<Tuple> rows = new ArrayList<>(entries.size());
        for (FeedEntry e : entries) {
            rows.add(Tuple.of(e.scope(), e.deviceId(), io.vertx.core.buffer.Buffer.buffer(e.changes()), e.n()));
        }
        return tx.preparedQuery("insert into change_feed (scope, device_id, changes, n) values ($1, $2, $3, $4)")
                .executeBatch(rows)
                .replaceWithVoid();
    }

    /** Opens or updates the open conflict for each (row, field, kind). */
    public Uni<Void> upsertOpenConflicts(
            SqlConnection tx,
            List<Conflict> conflicts,
            Map<Conflict, String> scopes,
            Map<Conflict, String> candidates) {
        if (conflicts.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return tx.preparedQuery("insert into conflict (tbl, row_id, field, kind, scope, candidates) "
                        + "select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
                        + "on conflict (tbl, row_id, field, kind) where status = 'open' "
                        + "do update set candidates = excluded.candidates, updated_at = now()")
                .execute(conflictKeys(conflicts)
                        .addArrayOfString(strings(conflicts, scopes::get))
                        .addArrayOfString(strings(conflicts, candidates::get)))
                .replaceWithVoid();
    }

    /** Table, row id, field ('' for a row conflict) and kind of each conflict: the four key columns. */
    private static Tuple conflictKeys(List<Conflict> conflicts) {
        return Tuple.tuple()
                .addArrayOfString(strings(conflicts, Conflict::table))
                .addArrayOfString(strings(conflicts, Conflict::rowId))
                .addArrayOfString(strings(conflicts, c -> c.field() == null ? "" : c.field()))
                .addArrayOfString(strings(conflicts, c -> c.kind().key()));
    }

    /** Marks open conflicts that the batch closed as resolved, by whom. */
    public Uni<Void> closeConflicts(SqlConnection tx, List<Conflict> closed, String by) {
        if (closed.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return tx.preparedQuery(
                        "update conflict c set status = 'resolved', resolved_at = now(), updated_at = now(), resolved_by = $5 "
                                + "from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as u(t, r, f, k) "
                                + "where c.status = 'open' and c.tbl = u.t and c.row_id = u.r and c.field = u.f and c.kind = u.k")
                .execute(conflictKeys(closed).addString(by))
                .replaceWithVoid();
    }

    /**
     * Records a sync: when, on which schema, and the cursor the device came with (what it has applied), from which
     * the fleet view counts the changes it has yet to pull.
     */
    public Uni<Void> touchDevice(String deviceId, int schemaVersion, Cursor applied) {
        return pool.preparedQuery(
                        "update device set last_sync_at = now(), schema_version = $2, last_cursor = $3 where id = $1")
                .execute(Tuple.of(deviceId, schemaVersion, applied.toString()))
                .replaceWithVoid();
    }

    /**
     * Feed entries to page through, the transaction watermark they were read under, and the compaction horizon of each
     * scope that has one, as of the same snapshot (a horizon moves in the transaction that deletes the entries).
     */
    public record FeedPage(List<FeedRow> rows, long watermarkXid, Map<String, Cursor> horizons) {}

    /** A feed entry: {@code n} changes, either stored together ({@code changes}) or one in JSON ({@code change}). */
    public record FeedRow(long xid, long pos, int n, String deviceId, String change, byte[] changes) {}

    /**
     * Reads the feed entries after {@code after} in the given scopes that hold its next {@code limit} changes (an
     * entry the cursor is inside of comes first), only from transactions that finished before every still-running
     * one ({@code xid < xmin} of one snapshot), in (xid, pos) order. The watermark and the rows come from the same
     * snapshot: for one scope, one statement reads both; for several, a repeatable-read transaction holds one
     * snapshot for all. One index range scan per scope ({@code scope = $1} keeps the (scope, xid, pos) index usable
     * for the order), merged here.
     */
    public Uni<FeedPage> readFeed(List<String> scopes, Cursor after, int limit) {
        if (scopes.size() == 1) {
            return pool.preparedQuery("with w as (select pg_snapshot_xmin(pg_current_snapshot()) as xmin,"
                            + " (select xid::text || ':' || pos from feed_horizon where scope = $1) as horizon)"
                            + " select w.xmin::text as xmin_text, w.horizon, e.* from w left join lateral ("
                            + scopeQuery(after, "w.xmin", "$4", "$5") + ") e on true order by e.xid, e.pos")
                    .execute(Tuple.of(
                            scopes.getFirst(), Long.toString(after.xid()), after.pos(), limit, limit + skipped(after)))
                    .map(rows -> {
                        Row first = rows.iterator().next();
                        long xmin = Long.parseLong(first.getString("xmin_text"));
                        String horizon = first.getString("horizon");
                        return new FeedPage(
                                feedRows(rows),
                                xmin,
                                horizon == null ? Map.of() : Map.of(scopes.getFirst(), Cursor.parse(horizon)));
                    });
        }
        return pool.withTransaction(tx -> tx.query("set transaction isolation level repeatable read, read only")
                .execute()
                .flatMap(ignored -> tx.preparedQuery("select pg_snapshot_xmin(pg_current_snapshot())::text as xmin,"
                                + " h.scope, h.xid::text || ':' || h.pos as horizon from (select 1) one"
                                + " left join feed_horizon h on h.scope = any($1)")
                        .execute(Tuple.of(scopes.toArray(String[]::new))))
                .flatMap(w -> {
                    long xmin = Long.parseLong(w.iterator().next().getString("xmin"));
                    Map<String, Cursor> horizons = new java.util.HashMap<>();
                    for (Row h : w) {
                        if (h.getString("scope") != null) {
                            horizons.put(h.getString("scope"), Cursor.parse(h.getString("horizon")));
                        }
                    }
                    List<Uni<List<FeedRow>>> perScope = new ArrayList<>();
                    for (String scope : scopes) {
                        perScope.add(
                                tx.preparedQuery(scopeQuery(after, "$4::text::xid8", "$5", "$6") + " order by xid, pos")
                                        .execute(Tuple.of(
                                                scope,
                                                Long.toString(after.xid()),
                                                after.pos(),
                                                Long.toString(xmin),
                                                limit,
                                                limit + skipped(after)))
                                        .map(SyncStore::feedRows));
                    }
                    return Uni.join().all(perScope).andFailFast().map(lists -> {
                        List<FeedRow> merged = new ArrayList<>();
                        lists.forEach(merged::addAll);
                        merged.sort(FEED_ORDER);
                        return new FeedPage(merged, xmin, horizons);
                    });
                }));
    }

    private static final java.util.Comparator<FeedRow> FEED_ORDER =
            java.util.Comparator.comparingLong(FeedRow::xid).thenComparingLong(FeedRow::pos);

    /**
     * One scope's ({@code $1}) entries from the cursor ({@code $2}, {@code $3}) on, as many as hold {@code limit}
     * changes past it: at most {@code limit} entries (each has at least one), then only those that start before the
     * limit plus the changes of the cursor's entry already taken (a running sum of {@code n} over those few rows; the
     * entries left out are never read out of their TOAST storage). Columns: xid, xid_text, pos, n, device_id, change,
     * changes.
     */
    private static String scopeQuery(Cursor after, String xmin, String entries, String changes) {
        return "select xid, xid::text as xid_text, pos, n, device_id, change, changes from ("
                + " select f.*, sum(n) over (order by xid, pos rows unbounded preceding) - n as before from ("
                + "  select xid, pos, n, device_id, change, changes from change_feed"
                + "  where scope = $1 and (xid, pos) " + (after.inside() ? ">=" : ">")
                + " ($2::text::xid8, $3) and xid < " + xmin
                + "  order by xid, pos limit " + entries + ") f) v"
                + " where before < " + changes;
    }

    private static long skipped(Cursor after) {
        return after.inside() ? after.taken() : 0;
    }

    private static List<FeedRow> feedRows(io.vertx.mutiny.sqlclient.RowSet<Row> rows) {
        List<FeedRow> out = new ArrayList<>(rows.size());
        for (Row r : rows) {
            if (r.getValue("pos") == null) {
                continue; // the watermark's row when the scope has nothing new
            }
            var changes = r.getBuffer("changes");
            out.add(new FeedRow(
                    Long.parseLong(r.getString("xid_text")),
                    r.getLong("pos"),
                    r.getInteger("n"),
                    r.getString("device_id"),
                    r.getString("change"),
                    changes == null ? null : changes.getBytes()));
        }
        return out;
    }

    public static String key(String table, String id) {
        return table + '/' + id;
    }
}
