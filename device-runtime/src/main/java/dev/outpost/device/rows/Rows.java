package dev.outpost.device.rows;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.clock.DeviceClock;
import dev.outpost.device.store.ChangeFeed;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.device.store.RowStore;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.device.store.Transactions;
import dev.outpost.device.store.TypedTables;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.faults.CrashPoints;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.RowView;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireLimits;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The device's rows: local writes (each one transaction: the row, its change-log entries and the clock), reads as
 * {@link RowRecord}s, open conflicts, and the refused changes with their way out (retry, discard). Writes never touch
 * the network. Bad input is a {@code DeviceException} with exit code 2, and nothing is written.
 */
public final class Rows {
    private static final JsonFactory JSON = new JsonFactory();

    private final Schema schema;
    private final Transactions tx;
    private final RowStore store;
    private final TypedTables typed;
    private final RowStates states;
    private final ChangeLog log;
    private final Settings settings;
    private final DeviceClock clock;
    private final ChangeFeed feed;
    private final WireCodec codec;

    public Rows(
            Schema schema,
            Transactions tx,
            RowStore store,
            ChangeLog log,
            Settings settings,
            DeviceClock clock,
            TypedTables typed,
            ChangeFeed feed) {
        this.schema = schema;
        this.tx = tx;
        this.store = store;
        this.typed = typed;
        this.feed = feed;
        this.states = new RowStates(schema, store, typed, feed, ChangeFeed.Origin.LOCAL);
        this.log = log;
        this.settings = settings;
        this.clock = clock;
        this.codec = new WireCodec(schema, WireLimits.DEFAULT);
    }

    // ---------------------------------------------------------------- writes

    /**
     * Writes fields of a row. Each value is JSON if it parses as JSON, else a string; that holds for the scope
     * column too, which may be given like a field and is filled in when the device has exactly one scope.
     */
    public List<Change> put(String table, String id, Map<String, String> values) {
        Table t = table(table);
        String scopeRaw = values.get(schema.scopeColumn());
        String scopeGiven = scopeRaw == null ? null : scopeValue(scopeRaw);
        return write(t, id, scopeGiven, (row, now) -> {
            List<Change> out = new ArrayList<>();
            for (var e : values.entrySet()) {
                if (e.getKey().equals(schema.scopeColumn())) {
                    continue;
                }
                Column c = column(t, e.getKey());
                if (c.merge() == MergePolicy.COUNTER) {
                    throw bad(table + "." + c.name() + " is a counter: use 'outpost add " + table + " " + id + " "
                            + c.name() + " N'");
                }
                if (c.merge() == MergePolicy.SET) {
                    throw bad(table + "." + c.name() + " is a set: use 'outpost tag " + table + " " + id + " "
                            + c.name() + " +element'");
                }
                out.add(LocalWrites.assign(row, c.name(), parseValue(table, c.name(), e.getValue()), now));
            }
            if (out.isEmpty()) {
                throw bad("nothing to write: give FIELD=VALUE");
            }
            return out;
        });
    }

    /** Adds {@code delta} (may be negative) to a counter field. */
    public List<Change> add(String table, String id, String field, long delta) {
        Table t = table(table);
        if (column(t, field).merge() != MergePolicy.COUNTER) {
            throw bad(table + "." + field + " is not a counter");
        }
        return write(t, id, null, (row, now) -> List.of(LocalWrites.increment(row, field, delta, now)));
    }

    /** {@code +element} adds, {@code -element} removes. */
    public List<Change> tag(String table, String id, String field, List<String> edits) {
        Table t = table(table);
        if (column(t, field).merge() != MergePolicy.SET) {
            throw bad(table + "." + field + " is not a set");
        }
        if (edits.isEmpty()) {
            throw bad("nothing to tag: give +element or -element");
        }
        return write(t, id, null, (row, now) -> {
            List<Change> out = new ArrayList<>();
            for (String e : edits) {
                if (e.length() < 2 || (e.charAt(0) != '+' && e.charAt(0) != '-')) {
                    throw bad("'" + e + "' is neither +element nor -element");
                }
                String element = e.substring(1);
                out.add(
                        e.charAt(0) == '+'
                                ? LocalWrites.addElement(row, field, element, now)
                                : LocalWrites.removeElement(row, field, element, now));
                row = RowMerge.apply(t, row, out.getLast()).row();
            }
            return out;
        });
    }

    public List<Change> delete(String table, String id) {
        Table t = table(table);
        return write(t, id, null, (row, now) -> {
            if (row.fields().isEmpty() && row.tombstone() == null) {
                throw bad("no " + table + "/" + id);
            }
            return List.of(LocalWrites.delete(row, now));
        });
    }

    /**
     * Applies logged pending changes to their rows again, oldest first, over what this database holds: for a database
     * rebuilt around its unsent changes ({@code outpost doctor --repair}). Nothing is logged; the changes are already.
     */
    public void applyUnsent(List<ChangeLog.LoggedChange> pending) {
        tx.run(() -> {
            for (ChangeLog.LoggedChange e : pending) {
                Change c = codec.decodeChange(e.change());
                Table t = table(c.table());
                Optional<RowStore.StoredRow> stored = store.getRow(t.name(), c.rowId());
                RowState row = states.of(t.name(), c.rowId(), c.scope(), stored);
                states.keepBase(row, stored.isPresent());
                states.saveWrite(row, RowMerge.apply(t, row, c).row());
            }
        });
    }

    @FunctionalInterface
    private interface Edit {
        List<Change> changes(RowState row, Hlc now);
    }

    /** One local write: the row (and its base, on its first unaccepted change), its changes and the clock. */
    private List<Change> write(Table t, String id, String scopeGiven, Edit edit) {
        try {
            List<Change> written = tx.inTransaction(() -> {
                Optional<RowStore.StoredRow> stored = store.getRow(t.name(), id);
                String scope = stored.map(RowStore.StoredRow::scope).orElseGet(() -> scopeFor(scopeGiven));
                if (scopeGiven != null && !scopeGiven.equals(scope)) {
                    throw bad(t.name() + "/" + id + " is in " + schema.scopeColumn() + " '" + scope
                            + "'; a row never changes scope");
                }
                RowState row = states.of(t.name(), id, scope, stored);
                if (RowConflicts.isDeleted(t, row)) {
                    throw bad(t.name() + "/" + id + " is deleted");
                }
                states.keepBase(row, stored.isPresent());
                RowState before = row;
                List<Change> changes = edit.changes(row, clock.current().now());
                for (Change c : changes) {
                    ChangeValidator.validate(schema, c);
                    row = RowMerge.apply(t, row, c).row();
                    log.append(codec.encodeChange(c));
                }
                states.saveWrite(before, row);
                CrashPoints.reached("write");
                // The clock is not saved here: the change just logged carries it (see DeviceClock).
                return changes;
            });
            CrashPoints.reached("written");
            return written;
        } catch (OutpostException e) {
            throw bad(e.getMessage());
        }
    }

    /** The scope column's value as given: JSON if it parses as a JSON string, else the text itself. */
    private static String scopeValue(String raw) {
        try (JsonParser p = JSON.createParser(raw)) {
            if (p.nextToken() == JsonToken.VALUE_STRING) {
                String text = p.getText();
                if (p.nextToken() == null) {
                    return text;
                }
            }
        } catch (IOException notJson) {
            // not a JSON string: the text itself
        }
        return raw;
    }

    private String scopeFor(String given) {
        List<String> scopes = scopes();
        if (given != null) {
            if (!scopes.isEmpty() && !scopes.contains(given)) {
                throw bad(schema.scopeColumn() + " '" + given + "' is not granted to this device ("
                        + String.join(", ", scopes) + ")");
            }
            return given;
        }
        if (scopes.size() == 1) {
            return scopes.getFirst();
        }
        throw bad("give " + schema.scopeColumn() + "=... : this device has "
                + (scopes.isEmpty() ? "no known scopes" : "scopes " + String.join(", ", scopes)));
    }

    /** The scopes granted to this device. */
    public List<String> scopes() {
        String s = tx.inTransaction(() -> settings.get(Setting.SCOPES).orElse(""));
        return s.isEmpty() ? List.of() : List.of(s.split(","));
    }

    private FieldValue parseValue(String table, String field, String raw) {
        try {
            return codec.decodeValue(table, field, raw);
        } catch (OutpostException asJson) {
            try {
                return codec.decodeValue(table, field, WireCodec.encodeValue(new FieldValue.Text(raw)));
            } catch (OutpostException asText) {
                throw bad(asText.getMessage());
            }
        }
    }

    // ---------------------------------------------------------------- reads

    /** One live row. */
    public Optional<RowRecord> get(String table, String id) {
        Table t = table(table);
        return tx.inTransaction(() -> store.getRow(table, id)
                .filter(s -> !s.deleted())
                .flatMap(s -> states.get(table, id))
                .map(r -> record(t, r)));
    }

    /** Every live row of a table, by id. */
    public List<RowRecord> list(String table) {
        Table t = table(table);
        return tx.inTransaction(() -> {
            List<RowRecord> out = new ArrayList<>();
            for (RowStore.StoredRow s : store.findRows(table, false)) {
                out.add(record(t, states.get(table, s.id()).orElseThrow()));
            }
            return out;
        });
    }

    private static RowRecord record(Table t, RowState row) {
        List<RowRecord.Field> fields = new ArrayList<>(t.columns().size());
        for (Column c : t.columns().values()) {
            FieldState f = row.field(c.name());
            FieldValue v = f != null
                    ? RowView.valueOf(f)
                    : c.merge() == MergePolicy.SET
                            ? new FieldValue.Json("[]")
                            : c.merge() == MergePolicy.COUNTER ? new FieldValue.Int(0) : null;
            fields.add(new RowRecord.Field(c.name(), v));
        }
        return new RowRecord(t.name(), row.id(), row.scope(), fields);
    }

    /** Open conflicts on this device, by table and row. */
    public List<Conflict> conflicts() {
        return tx.inTransaction(() -> {
            List<Conflict> out = new ArrayList<>();
            for (RowStore.StoredRow s : store.findRowsWithConflicts()) {
                out.addAll(RowConflicts.of(
                        schema.table(s.table()), states.get(s.table(), s.id()).orElseThrow()));
            }
            return out;
        });
    }

    /** Rows a filtered list answers when no limit is given, and the most it may be asked for. */
    public static final int LIST_LIMIT_DEFAULT = 1_000;

    public static final int LIST_LIMIT_MAX = 10_000;

    /**
     * What a filtered list asks for: fields (or {@code id}, or the scope column) equal to values given as for
     * {@code put}; ordered by a field (or {@code id}), descending if asked; at most {@code limit}; after the row
     * {@code after} (the last id of the page before), or from the start when null.
     */
    public record Selection(Map<String, String> where, String order, boolean desc, int limit, String after) {}

    /** The live rows a {@link Selection} picks, read through the typed table's indexes. */
    public List<RowRecord> find(String table, Selection s) {
        Table t = table(table);
        if (s.limit() < 1 || s.limit() > LIST_LIMIT_MAX) {
            throw bad("--limit is 1 to " + LIST_LIMIT_MAX);
        }
        String order = s.order() == null ? "id" : s.order();
        if (!order.equals("id")) {
            column(t, order);
        }
        Map<String, Object> where = new java.util.LinkedHashMap<>();
        for (var w : s.where().entrySet()) {
            String name = w.getKey();
            if (name.equals("id")) {
                where.put(name, w.getValue());
            } else if (name.equals(schema.scopeColumn())) {
                where.put(name, scopeValue(w.getValue()));
            } else {
                column(t, name);
                where.put(name, TypedValues.jdbc(parseValue(table, name, w.getValue())));
            }
        }
        return tx.inTransaction(() -> {
            List<RowRecord> out = new ArrayList<>();
            for (String id : typed.findIds(table, where, order, s.desc(), s.limit(), s.after())) {
                states.get(table, id).ifPresent(r -> out.add(record(t, r)));
            }
            return out;
        });
    }

    /** Rows a query answers at most: a query that would answer more is refused (add a LIMIT). */
    public static final int QUERY_ROWS_MAX = 10_000;

    /**
     * A read-only SQL query over the typed tables (device-runtime/README.md, "Typed tables"): one SELECT with {@code ?}
     * parameters, reading nothing but the typed tables; anything else is refused with exit code 2, nothing changed.
     */
    public List<Map<String, Object>> query(String sql, List<String> params) {
        return typed.query(schema, sql, params, QUERY_ROWS_MAX);
    }

    // ---------------------------------------------------------------- refused changes

    public List<RefusedChange> refused() {
        return tx.inTransaction(() -> log.findRefused().stream()
                .map(l -> new RefusedChange(l.seq(), codec.decodeChange(l.change()), l.code(), l.message()))
                .toList());
    }

    /** Puts a refused change back in line to be pushed at the next sync (exit 2 when {@code seq} is not refused). */
    public void retry(long seq) {
        tx.run(() -> {
            if (!log.retry(seq)) {
                throw bad("no refused change #" + seq + " (see 'outpost refused')");
            }
        });
    }

    /**
     * Drops a refused change for good: it is never pushed, and its row is rebuilt from what the server confirmed and
     * the row's remaining unaccepted changes, so its value does not stay applied. Exit 2 when {@code seq} is not a
     * refused change, or when its row has no kept base (a change logged by an outpost older than bases: retry it or
     * write the value again instead).
     */
    public void discard(long seq) {
        tx.run(() -> {
            ChangeLog.LoggedChange target = log.get(seq)
                    .filter(ChangeLog.LoggedChange::refused)
                    .orElseThrow(() -> bad("no refused change #" + seq + " (see 'outpost refused')"));
            Change c = codec.decodeChange(target.change());
            List<Change> remaining = new ArrayList<>();
            for (ChangeLog.LoggedChange l : log.findUnsent()) {
                if (l.seq() == seq) {
                    continue;
                }
                Change other = codec.decodeChange(l.change());
                if (other.table().equals(c.table()) && other.rowId().equals(c.rowId())) {
                    remaining.add(other);
                }
            }
            log.discard(seq);
            if (!states.rebuild(c.table(), c.rowId(), c.scope(), remaining)) {
                throw bad("change #" + seq + " was logged before this outpost kept what the server confirmed of "
                        + c.table() + "/" + c.rowId() + ": retry it, or write the value you want instead");
            }
            if (remaining.isEmpty()) {
                store.deleteBase(c.table(), c.rowId());
            }
        });
    }

    // ---------------------------------------------------------------- changes feed

    /** The longest a changes read may wait for a change. */
    public static final int CHANGES_WAIT_MAX_S = 60;

    /**
     * How often a waiting changes read asks the feed again: writes of this process wake it at once, this bounds how
     * late a write by another process (a command run while {@code outpost run} serves) is seen.
     */
    private static final long CHANGES_RECHECK_MS = 250;

    /**
     * The rows changed after {@code after} (of {@code table} only unless it is null), at most {@code limit}; when there
     * are none yet, waits up to {@code waitMs} for one. Exit 2 for an unknown table, a negative seq or a limit or wait
     * out of range.
     */
    public RowChanges changes(long after, String table, int limit, long waitMs) {
        if (table != null) {
            table(table);
        }
        if (after < 0) {
            throw bad("after is a seq the feed gave, 0 or more");
        }
        if (limit < 1 || limit > LIST_LIMIT_MAX) {
            throw bad("limit is 1 to " + LIST_LIMIT_MAX);
        }
        if (waitMs < 0 || waitMs > CHANGES_WAIT_MAX_S * 1000L) {
            throw bad("wait is 0 to " + CHANGES_WAIT_MAX_S + " seconds");
        }
        long deadline = System.nanoTime() + waitMs * 1_000_000L;
        while (true) {
            RowChanges page = tx.inTransaction(() -> readChanges(after, table, limit));
            long leftMs = (deadline - System.nanoTime()) / 1_000_000L;
            if (!page.changes().isEmpty()
                    || page.reset()
                    || leftMs <= 0
                    || Thread.currentThread().isInterrupted()) {
                return page;
            }
            feed.awaitRecorded(Math.min(leftMs, CHANGES_RECHECK_MS));
        }
    }

    private RowChanges readChanges(long after, String table, int limit) {
        long head = feed.head();
        long oldest = feed.oldest();
        if (after > head || (oldest > 0 && after < oldest - 1)) {
            return new RowChanges(List.of(), head, true);
        }
        List<ChangeFeed.Entry> entries = feed.after(after, table, limit);
        List<RowChanges.Entry> out = new ArrayList<>(entries.size());
        for (ChangeFeed.Entry e : entries) {
            RowRecord row = null;
            if (!e.deleted() && schema.getTable(e.table()).isPresent()) {
                Table t = schema.table(e.table());
                row = store.getRow(e.table(), e.id())
                        .filter(s -> !s.deleted())
                        .flatMap(s -> states.get(e.table(), e.id()))
                        .map(r -> record(t, r))
                        .orElse(null);
            }
            out.add(new RowChanges.Entry(e.seq(), e.table(), e.id(), row == null, e.origin(), row));
        }
        // A full page continues after its last entry; a short one has read every entry up to the head.
        long last = entries.size() == limit ? entries.getLast().seq() : head;
        return new RowChanges(out, Math.max(last, after), false);
    }

    /** The newest seq of the changes feed (0 before any change): where a reader that wants only new changes starts. */
    public long changesHead() {
        return tx.inTransaction(feed::head);
    }

    // ---------------------------------------------------------------- helpers

    public Table table(String name) {
        return schema.getTable(name)
                .orElseThrow(() -> bad("unknown table '" + name + "' (tables: "
                        + String.join(", ", schema.tables().keySet()) + ")"));
    }

    private static Column column(Table t, String field) {
        return t.getColumn(field).orElseThrow(() -> bad("unknown field '" + t.name() + "." + field + "'"));
    }

    private static DeviceException bad(String message) {
        return new DeviceException(ExitCode.BAD_INPUT, message);
    }
}
