package dev.outpost.device;

import dev.outpost.device.model.ModelUpdater;
import dev.outpost.device.store.LocalStore;
import dev.outpost.device.sync.Problem;
import dev.outpost.device.sync.SyncTransport;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.ClockRelabel;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.merge.FieldState;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowConflicts;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.RowView;
import dev.outpost.model.order.ApplyOrder;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.JsonText;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The device library: one home folder (SQLite database, credential, schema) and every operation of the command
 * line. Writes never touch the network; {@link #sync} is the only call that does.
 */
public final class OutpostDevice implements AutoCloseable {
    public static final String DB_FILE = "outpost.db";
    public static final String CREDENTIAL_FILE = "credential";
    public static final String SCHEMA_FILE = "schema.yaml";
    /**
     * The same schema as JSON ({@link SchemaLoader#toJson}), which opens without a YAML parser. Homes set up before
     * it existed have only the YAML, and open from that.
     */
    public static final String SCHEMA_JSON_FILE = "schema.json";
    /** Changes per pushed batch (the service accepts up to 5,000 by default). */
    public static final int BATCH_CHANGES_MAX = 500;

    /**
     * A sync answer whose server clock is this far behind the device's marks the device's clock as running ahead,
     * and the device stamps from the server's time from then on. (Less is taken for the network's delay.)
     */
    static final long CLOCK_AHEAD_NOTICED_MS = 60_000;

    public static final int PULL_PAGE_SIZE = 1_000;

    private final Path home;
    private final LocalStore store;
    private final Schema schema;
    private final WireCodec codec;
    private final RowStateCodec rows;
    private final String deviceId;

    private OutpostDevice(Path home, LocalStore store, Schema schema, String deviceId) {
        this.home = home;
        this.store = store;
        this.schema = schema;
        this.codec = new WireCodec(schema, WireLimits.DEFAULT);
        this.rows = new RowStateCodec(schema);
        this.deviceId = deviceId;
    }

    /** Creates a device home. Learns the device's scopes from the server if it answers; works offline too. */
    public static String init(
            Path home, String server, String deviceId, String token, Path schemaFile, List<String> scopes) {
        return init(home, server, deviceId, token, schemaFile, scopes, null);
    }

    /** As above, pinning {@code modelKey} (base64 X.509 Ed25519) as the only key model updates are trusted with. */
    public static String init(
            Path home,
            String server,
            String deviceId,
            String token,
            Path schemaFile,
            List<String> scopes,
            String modelKey) {
        if (modelKey != null) {
            try {
                dev.outpost.model.artifact.SigningKeys.decodePublic(modelKey);
            } catch (OutpostException e) {
                throw new DeviceException(ExitCode.BAD_INPUT, "--model-key: " + e.getMessage());
            }
        }
        if (Files.exists(home.resolve(DB_FILE))) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT, "a device is already set up in " + home + "; use another --home");
        }
        if (!ChangeValidator.isRowId(deviceId)) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT, "device id '" + deviceId + "' is not 1-64 letters, digits, '-', '_', '.', ':'");
        }
        String schemaText;
        try {
            schemaText = schemaFile == null ? null : Files.readString(schemaFile);
            Schema schema = schemaText == null ? SchemaLoader.farmExample() : SchemaLoader.parse(schemaText);
            List<String> granted = new ArrayList<>(scopes);
            String note = "";
            if (granted.isEmpty()) {
                try {
                    SyncTransport.Answer a = new SyncTransport(server, token).get("v1/device");
                    if (a.status() == 200) {
                        granted.addAll(JsonFields.strings(new String(a.body(), StandardCharsets.UTF_8), "scopes"));
                    } else {
                        Problem p = Problem.parse(a.status(), a.body());
                        throw new DeviceException(ExitCode.REFUSED, "the server refused the credential: " + p.detail());
                    }
                } catch (DeviceException e) {
                    if (e.exitCode() != ExitCode.UNREACHABLE) {
                        throw e;
                    }
                    note = " (server unreachable: scopes unknown until --scope is given or init is run online)";
                }
            }
            Files.createDirectories(home);
            writeSecret(home.resolve(CREDENTIAL_FILE), token);
            Files.writeString(
                    home.resolve(SCHEMA_FILE), schemaText != null ? schemaText : SchemaLoader.farmExampleText());
            Files.writeString(home.resolve(SCHEMA_JSON_FILE), SchemaLoader.toJson(schema));
            try (LocalStore store = LocalStore.open(home.resolve(DB_FILE))) {
                store.inTransaction(() -> {
                    store.putMeta("device_id", deviceId);
                    store.putMeta("server", server);
                    store.putMeta("schema_version", Integer.toString(schema.version()));
                    store.putMeta("scopes", String.join(",", granted));
                    if (modelKey != null) {
                        store.putMeta("model.signing_key", modelKey.strip());
                    }
                    return null;
                });
            }
            return "device " + deviceId + " ready in " + home + " (schema version " + schema.version() + ", scopes "
                    + (granted.isEmpty() ? "none yet" : String.join(", ", granted)) + ")" + note;
        } catch (OutpostException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, e.getMessage(), e);
        } catch (IOException e) {
            throw new DeviceException(
                    ExitCode.STORAGE, "cannot write the device home " + home + ": " + e.getMessage(), e);
        }
    }

    public static OutpostDevice open(Path home) {
        if (!Files.exists(home.resolve(DB_FILE))) {
            throw new DeviceException(ExitCode.BAD_INPUT, "no device in " + home + ": run 'outpost init' first");
        }
        try {
            Path json = home.resolve(SCHEMA_JSON_FILE);
            Schema schema = Files.exists(json)
                    ? SchemaLoader.parseJson(Files.readString(json))
                    : SchemaLoader.parse(Files.readString(home.resolve(SCHEMA_FILE)));
            LocalStore store = LocalStore.open(home.resolve(DB_FILE));
            String id = store.inTransaction(() -> store.getMeta("device_id").orElseThrow());
            return new OutpostDevice(home, store, schema, id);
        } catch (IOException e) {
            throw new DeviceException(
                    ExitCode.STORAGE, "cannot read the device home " + home + ": " + e.getMessage(), e);
        }
    }

    public String deviceId() {
        return deviceId;
    }

    public Schema schema() {
        return schema;
    }

    // ---------------------------------------------------------------- writes

    /**
     * Writes fields of a row. Values are JSON if they parse as JSON, else strings; the scope column may be given like
     * a field and is filled in when the device has exactly one scope.
     */
    public Change[] put(String table, String id, Map<String, String> values) {
        Table t = table(table);
        return write(table, id, values.get(schema.scopeColumn()), (row, clock) -> {
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
                out.add(LocalWrites.assign(row, c.name(), parseValue(table, c.name(), e.getValue()), clock));
            }
            if (out.isEmpty()) {
                throw bad("nothing to write: give FIELD=VALUE");
            }
            return out;
        });
    }

    public Change[] add(String table, String id, String field, long delta) {
        Column c = column(table(table), field);
        if (c.merge() != MergePolicy.COUNTER) {
            throw bad(table + "." + field + " is not a counter");
        }
        return write(table, id, null, (row, clock) -> List.of(LocalWrites.increment(row, field, delta, clock)));
    }

    /** {@code +element} adds, {@code -element} removes. */
    public Change[] tag(String table, String id, String field, List<String> edits) {
        Column c = column(table(table), field);
        if (c.merge() != MergePolicy.SET) {
            throw bad(table + "." + field + " is not a set");
        }
        if (edits.isEmpty()) {
            throw bad("nothing to tag: give +element or -element");
        }
        return write(table, id, null, (row, clock) -> {
            List<Change> out = new ArrayList<>();
            for (String e : edits) {
                if (e.length() < 2 || (e.charAt(0) != '+' && e.charAt(0) != '-')) {
                    throw bad("'" + e + "' is neither +element nor -element");
                }
                String element = e.substring(1);
                out.add(
                        e.charAt(0) == '+'
                                ? LocalWrites.addElement(row, field, element, clock)
                                : LocalWrites.removeElement(row, field, element, clock));
                row = RowMerge.apply(schema.table(table), row, out.getLast()).row();
            }
            return out;
        });
    }

    public Change[] delete(String table, String id) {
        table(table);
        return write(table, id, null, (row, clock) -> {
            if (row.fields().isEmpty() && row.tombstone() == null) {
                throw bad("no " + table + "/" + id);
            }
            return List.of(LocalWrites.delete(row, clock));
        });
    }

    @FunctionalInterface
    private interface Edit {
        List<Change> changes(RowState row, Hlc clock) throws SQLException;
    }

    /** One local write: the row and its change-log entries and the clock, in one transaction. */
    private Change[] write(String table, String id, String scopeGiven, Edit edit) {
        Table t = table(table);
        try {
            return store.inTransaction(() -> {
                Optional<LocalStore.StoredRow> stored = store.getRow(table, id);
                String scope = stored.map(LocalStore.StoredRow::scope).orElseGet(() -> scopeFor(scopeGiven));
                if (scopeGiven != null && !scopeGiven.equals(scope)) {
                    throw bad(table + "/" + id + " is in " + schema.scopeColumn() + " '" + scope
                            + "'; a row never changes scope");
                }
                RowState row = stored.map(s -> rows.decode(table, id, s.scope(), s.state()))
                        .orElseGet(() -> RowState.empty(table, id, scope));
                if (RowConflicts.isDeleted(t, row)) {
                    throw bad(table + "/" + id + " is deleted");
                }
                HybridClock clock = clock();
                Hlc now = clock.now();
                List<Change> changes = edit.changes(row, now);
                for (Change c : changes) {
                    ChangeValidator.validate(schema, c);
                    row = RowMerge.apply(t, row, c).row();
                    store.appendChange(codec.encodeChange(c));
                }
                saveRow(t, row);
                // The clock is not saved here: the change just logged carries it (see clock()).
                return changes.toArray(new Change[0]);
            });
        } catch (OutpostException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, e.getMessage(), e);
        }
    }

    private String scopeFor(String given) {
        if (given != null) {
            List<String> scopes = scopes();
            if (!scopes.isEmpty() && !scopes.contains(given)) {
                throw bad(schema.scopeColumn() + " '" + given + "' is not granted to this device ("
                        + String.join(", ", scopes) + ")");
            }
            return given;
        }
        List<String> scopes = scopes();
        if (scopes.size() == 1) {
            return scopes.getFirst();
        }
        throw bad("give " + schema.scopeColumn() + "=... : this device has "
                + (scopes.isEmpty() ? "no known scopes" : "scopes " + String.join(", ", scopes)));
    }

    private List<String> scopes() {
        try {
            String s = store.getMeta("scopes").orElse("");
            return s.isEmpty() ? List.of() : List.of(s.split(","));
        } catch (SQLException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot read settings", e);
        }
    }

    /**
     * The device's clock, continuing from the larger of the clock saved by the last sync (which took in the clocks it
     * received) and the clock of the newest logged change. A local write logs its changes with the clock it read, so
     * the log is where its clock is kept: saving it in {@code meta} as well cost every write a page of its own.
     * Logged changes are never deleted, and re-stamping rewrites them in their order, so the newest one is the
     * highest clock this device has stamped.
     */
    private HybridClock clock() throws SQLException {
        Hlc synced = store.getMeta("clock").map(Hlc::parse).orElse(null);
        Hlc logged =
                store.getNewestChange().map(c -> codec.decodeChange(c).clock()).orElse(null);
        Hlc last = Hlc.max(synced, logged);
        long offset = clockOffsetMs();
        return new HybridClock(deviceId, () -> System.currentTimeMillis() + offset, last);
    }

    /**
     * What the device adds to its wall clock when it stamps changes: 0, or minus how far its clock was last found
     * running ahead of the server's.
     */
    private long clockOffsetMs() throws SQLException {
        return store.getMeta("clock_offset_ms").map(Long::parseLong).orElse(0L);
    }

    /**
     * Sets the offset from the server's time in an answer: a clock running ahead of it by more than {@code
     * toleranceMs} is corrected, and the offset of any other is 0.
     */
    private void noteServerTime(long serverTimeMs, long toleranceMs) throws SQLException {
        long behind = serverTimeMs - System.currentTimeMillis();
        store.putMeta("clock_offset_ms", Long.toString(behind < -toleranceMs ? behind : 0));
    }

    /** The latest clock this device has shared: pushed and acknowledged, or pulled. */
    private Hlc sharedClock() throws SQLException {
        return store.getMeta("clock_shared").map(Hlc::parse).orElse(null);
    }

    private void saveRow(Table t, RowState row) throws SQLException {
        store.putRow(
                row.table(),
                row.id(),
                row.scope(),
                rows.encode(row),
                RowConflicts.isDeleted(t, row),
                RowConflicts.of(t, row).size());
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

    /** One row as JSON: id, scope column, every field (counters as totals, sets as sorted arrays). */
    public Optional<String> get(String table, String id) {
        Table t = table(table);
        return store.inTransaction(() -> store.getRow(table, id)
                .filter(s -> !s.deleted())
                .map(s -> rowJson(t, rows.decode(table, id, s.scope(), s.state()))));
    }

    /** Every live row of a table as JSON, by id. */
    public List<String> list(String table) {
        Table t = table(table);
        return store.inTransaction(() -> {
            List<String> out = new ArrayList<>();
            for (LocalStore.StoredRow s : store.findRows(table, false)) {
                out.add(rowJson(t, rows.decode(table, s.id(), s.scope(), s.state())));
            }
            return out;
        });
    }

    private String rowJson(Table t, RowState row) {
        StringBuilder b = new StringBuilder("{");
        b.append(JsonText.quote("id")).append(':').append(JsonText.quote(row.id()));
        b.append(',').append(JsonText.quote(schema.scopeColumn())).append(':').append(JsonText.quote(row.scope()));
        for (Column c : t.columns().values()) {
            FieldState f = row.field(c.name());
            String value = f == null
                    ? (c.merge() == MergePolicy.SET ? "[]" : c.merge() == MergePolicy.COUNTER ? "0" : "null")
                    : WireCodec.encodeValue(RowView.valueOf(f));
            b.append(',').append(JsonText.quote(c.name())).append(':').append(value);
        }
        return b.append('}').toString();
    }

    /** Open conflicts on this device, as a JSON array. */
    public String conflictsJson() {
        return store.inTransaction(() -> {
            StringBuilder b = new StringBuilder("[");
            for (LocalStore.StoredRow s : store.findRowsWithConflicts()) {
                Table t = schema.table(s.table());
                for (Conflict c : RowConflicts.of(t, rows.decode(s.table(), s.id(), s.scope(), s.state()))) {
                    if (b.length() > 1) {
                        b.append(',');
                    }
                    b.append("{\"table\":")
                            .append(JsonText.quote(c.table()))
                            .append(",\"id\":")
                            .append(JsonText.quote(c.rowId()))
                            .append(",\"field\":")
                            .append(c.field() == null ? "null" : JsonText.quote(c.field()))
                            .append(",\"kind\":")
                            .append(JsonText.quote(c.kind().key()))
                            .append(",\"status\":\"open\",\"candidates\":[");
                    for (int i = 0; i < c.candidates().size(); i++) {
                        Conflict.Candidate k = c.candidates().get(i);
                        b.append(i == 0 ? "" : ",")
                                .append("{\"field\":")
                                .append(k.field() == null ? "null" : JsonText.quote(k.field()))
                                .append(",\"value\":")
                                .append(k.value() == null ? "null" : WireCodec.encodeValue(k.value()))
                                .append(",\"device\":")
                                .append(JsonText.quote(k.deviceId()))
                                .append(",\"clock\":")
                                .append(JsonText.quote(k.clock().toString()))
                                .append(",\"delete\":")
                                .append(k.delete())
                                .append(",\"winner\":")
                                .append(i == 0)
                                .append('}');
                    }
                    b.append("]}");
                }
            }
            return b.append(']').toString();
        });
    }

    /** What {@code status} shows. */
    public record Status(
            String deviceId,
            String server,
            List<String> scopes,
            long pending,
            List<LocalStore.LoggedChange> refused,
            String lastSyncAt,
            String lastSyncError,
            String cursor,
            long clockOffsetMs) {}

    public Status status() {
        return store.inTransaction(() -> new Status(
                deviceId,
                store.getMeta("server").orElse(""),
                scopes(),
                store.countPending(),
                store.findRefused(),
                store.getMeta("last_sync_at").orElse(null),
                store.getMeta("last_sync_error").orElse(null),
                store.getMeta("cursor").orElse(null),
                clockOffsetMs()));
    }

    // ---------------------------------------------------------------- sync

    /**
     * What one sync round did.
     *
     * @param restamped changes re-stamped because the device's clock ran ahead of the server's
     */
    public record SyncResult(int pushed, int pulled, int refused, int conflictsOpened, int orphans, int restamped) {}

    /**
     * Pushes every pending change in batches and pulls every page. A batch keeps its id until the server
     * acknowledges it, so a retry after a lost answer (or a crash) cannot apply it twice.
     */
    public SyncResult sync() {
        String server = meta("server");
        String token = readSecret(home.resolve(CREDENTIAL_FILE));
        SyncTransport transport = new SyncTransport(server, token);
        int pushed = 0, pulled = 0, refused = 0, opened = 0, orphans = 0, restamped = 0;
        boolean restampTried = false;
        // The next page, asked for while this one is applied, so the server's work and the device's overlap. Its
        // cursor is committed only with the page before it, so a crash in between asks for it again.
        java.util.concurrent.CompletableFuture<SyncTransport.Answer> nextPage = null;
        java.util.concurrent.ExecutorService fetcher = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "outpost-page-fetch");
            t.setDaemon(true);
            return t;
        });
        try {
            // Changes an earlier round set aside for clock skew go out again: time has passed, or they are re-stamped.
            store.inTransaction(() -> store.requeueRefused(ErrorCode.CLOCK_SKEW.key()));
            boolean more = true;
            while (true) {
                List<LocalStore.LoggedChange> batch;
                List<Change> pushing;
                SyncTransport.Answer answer;
                if (nextPage != null) {
                    batch = List.of();
                    pushing = List.of();
                    answer = await(nextPage);
                    nextPage = null;
                } else {
                    batch = nextBatch();
                    if (batch.isEmpty() && !more) {
                        break;
                    }
                    pushing = batch.stream()
                            .map(l -> codec.decodeChange(l.change()))
                            .toList();
                    answer = post(
                            transport,
                            batch.isEmpty() ? null : batch.getFirst().batchId(),
                            meta("cursor", null),
                            pushing);
                }
                if (answer.status() == 200) {
                    SyncResponse response = codec.decodeResponse(answer.body(), WireFormat.BINARY);
                    if (response.more()) {
                        nextPage = java.util.concurrent.CompletableFuture.supplyAsync(
                                () -> post(transport, null, response.cursor(), List.of()), fetcher);
                    }
                    models().rememberAssignments(response.modelAssignments());
                    int[] applied = applyAnswer(batch, pushing, response);
                    pushed += batch.size();
                    pulled += response.changes().size();
                    opened += response.conflicts().size();
                    orphans += applied[0];
                    more = response.more();
                } else if (answer.status() >= 500) {
                    throw new DeviceException(
                            ExitCode.UNREACHABLE,
                            "the server failed (" + answer.status() + "); nothing was lost, sync again later");
                } else {
                    Problem p = Problem.parse(answer.status(), answer.body());
                    if (p.refused().isEmpty() || batch.isEmpty()) {
                        recordError(p.code() + ": " + p.detail());
                        throw new DeviceException(
                                ExitCode.REFUSED, "refused by the server: " + p.detail() + " [" + p.code() + "]");
                    }
                    if (!restampTried && canRestamp(p)) {
                        // Once per round: a second clock-skew answer (a server whose replicas disagree, say) sets
                        // the changes aside instead, and the next round tries again.
                        restampTried = true;
                        int[] done = restamp(batch, p);
                        refused += done[0];
                        restamped += done[1];
                    } else {
                        refused += setAside(batch, p);
                    }
                }
            }
            store.inTransaction(() -> {
                store.putMeta("last_sync_at", Instant.now().toString());
                store.putMeta("last_sync_error", "");
                return null;
            });
            // Install reports written while offline go out with the first sync that works.
            models().flushReports();
        } catch (DeviceException e) {
            if (e.exitCode() == ExitCode.UNREACHABLE) {
                recordError(e.getMessage());
            }
            throw e;
        } catch (OutpostException e) {
            recordError(e.getMessage());
            throw new DeviceException(
                    ExitCode.UNREACHABLE, "the server's answer could not be read: " + e.getMessage(), e);
        } finally {
            fetcher.shutdownNow();
        }
        SyncResult result = new SyncResult(pushed, pulled, refused, opened, orphans, restamped);
        if (refused > 0) {
            throw new SyncRefused(result);
        }
        return result;
    }

    /** Model installs for this device (the system clock decides assignment expiry). */
    public ModelUpdater models() {
        return models(System::currentTimeMillis);
    }

    /** Model installs with the given clock for assignment expiry. */
    public ModelUpdater models(java.util.function.LongSupplier clockMs) {
        return new ModelUpdater(store, home, meta("server"), readSecret(home.resolve(CREDENTIAL_FILE)), clockMs);
    }

    /** Some changes were set aside as refused; the rest synced. */
    public static final class SyncRefused extends DeviceException {
        public final SyncResult result;

        SyncRefused(SyncResult result) {
            super(
                    ExitCode.REFUSED,
                    result.refused() + " change(s) refused by the server and kept aside; see 'outpost status'");
            this.result = result;
        }
    }

    /** The pending changes to push next: the unacknowledged batch if there is one, else a new one. */
    private List<LocalStore.LoggedChange> nextBatch() {
        return store.inTransaction(() -> {
            List<LocalStore.LoggedChange> pending = store.findPending(BATCH_CHANGES_MAX);
            if (pending.isEmpty()) {
                return pending;
            }
            String open = pending.getFirst().batchId();
            if (open != null) {
                return pending.stream().filter(l -> open.equals(l.batchId())).toList();
            }
            String batchId = deviceId + "-" + UUID.randomUUID();
            List<Long> seqs = pending.stream()
                    .filter(l -> l.batchId() == null)
                    .map(LocalStore.LoggedChange::seq)
                    .toList();
            store.assignBatch(seqs, batchId);
            return pending.stream()
                    .filter(l -> l.batchId() == null)
                    .map(l -> new LocalStore.LoggedChange(
                            l.seq(), l.change(), batchId, l.status(), l.code(), l.message()))
                    .toList();
        });
    }

    /** Marks the batch sent, applies the pulled page and stores the cursor, in one transaction. */
    private int[] applyAnswer(List<LocalStore.LoggedChange> batch, List<Change> pushed, SyncResponse response) {
        return store.inTransaction(() -> {
            store.markSent(batch.stream().map(LocalStore.LoggedChange::seq).toList());
            Hlc shared = sharedClock();
            for (Change c : pushed) {
                shared = Hlc.max(shared, c.clock());
            }
            for (Change c : response.changes()) {
                shared = Hlc.max(shared, c.clock());
            }
            if (shared != null) {
                store.putMeta("clock_shared", shared.toString());
            }
            noteServerTime(response.serverTimeMs(), CLOCK_AHEAD_NOTICED_MS);
            List<Change> ordered = ApplyOrder.sort(schema, response.changes());
            Map<String, RowState> touched = new LinkedHashMap<>();
            HybridClock clock = clock();
            for (Change c : ordered) {
                String key = c.table() + "/" + c.rowId();
                RowState row = touched.get(key);
                if (row == null) {
                    row = store.getRow(c.table(), c.rowId())
                            .map(s -> rows.decode(c.table(), c.rowId(), s.scope(), s.state()))
                            .orElseGet(() -> RowState.empty(c.table(), c.rowId(), c.scope()));
                }
                touched.put(key, RowMerge.apply(schema.table(c.table()), row, c).row());
                clock.receive(c.clock());
            }
            Map<String, Boolean> present = new HashMap<>();
            touched.values()
                    .forEach(r ->
                            present.put(r.table() + "/" + r.id(), !RowConflicts.isDeleted(schema.table(r.table()), r)));
            int orphans = ApplyOrder.findOrphans(
                            schema,
                            ordered,
                            (t, id) -> present.computeIfAbsent(t + "/" + id, k -> {
                                try {
                                    return store.getRow(t, id)
                                            .map(s -> !s.deleted())
                                            .orElse(false);
                                } catch (SQLException e) {
                                    throw new DeviceException(ExitCode.STORAGE, "cannot read " + k, e);
                                }
                            }))
                    .size();
            for (RowState r : touched.values()) {
                saveRow(schema.table(r.table()), r);
            }
            store.putMeta("clock", clock.last().toString());
            store.putMeta("cursor", response.cursor());
            return new int[] {orphans};
        });
    }

    /** One sync round trip in the binary encoding: pushes {@code changes} (a batch, or none) and pulls a page. */
    private SyncTransport.Answer post(SyncTransport transport, String batchId, String cursor, List<Change> changes) {
        SyncRequest request = new SyncRequest(deviceId, schema.version(), batchId, cursor, PULL_PAGE_SIZE, changes);
        return transport.post("v1/sync", WireFormat.BINARY.mediaType(), codec.encode(request, WireFormat.BINARY));
    }

    /** The answer a background fetch got, or what it failed with. */
    private static SyncTransport.Answer await(java.util.concurrent.CompletableFuture<SyncTransport.Answer> page) {
        try {
            return page.join();
        } catch (java.util.concurrent.CompletionException e) {
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

    /**
     * Re-stamps every change this device has not had accepted whose clock runs past what the server accepts now
     * (its time plus the allowed skew), in one transaction; sets aside the batch's refusals of other kinds. Returns
     * {set aside, re-stamped}.
     *
     * <p>The new clocks follow every clock the device has shared (pushed and acknowledged, or pulled) and the
     * server's ceiling, and keep the old clocks' order among themselves. The replaced clocks never left the device,
     * and every other clock a row holds is below the new ones. So the mapping keeps the order of every clock in every
     * row, and {@link ClockRelabel} turns each stored row into exactly the state the re-stamped changes merge to: no
     * value changes, nothing is merged again. The device's wall clock is then corrected by the offset the server's
     * time shows.
     */
    private int[] restamp(List<LocalStore.LoggedChange> batch, Problem p) {
        return store.inTransaction(() -> {
            int setAside = 0;
            for (Problem.Refused r : p.refused()) {
                if (!ErrorCode.CLOCK_SKEW.key().equals(r.code()) && r.index() >= 0 && r.index() < batch.size()) {
                    store.markRefused(batch.get(r.index()).seq(), r.code(), r.message());
                    setAside++;
                }
            }
            store.clearBatch(batch.stream().map(LocalStore.LoggedChange::seq).toList());
            long ceiling = p.serverTimeMs() + p.maxClockSkewMs();
            List<LocalStore.LoggedChange> unsent = store.findUnsent();
            java.util.TreeSet<Hlc> ahead = new java.util.TreeSet<>();
            List<Change> decoded = new ArrayList<>(unsent.size());
            for (LocalStore.LoggedChange l : unsent) {
                Change c = codec.decodeChange(l.change());
                decoded.add(c);
                if (c.deviceId().equals(deviceId) && c.clock().physicalMs() > ceiling) {
                    ahead.add(c.clock());
                }
            }
            Hlc start = Hlc.max(new Hlc(ceiling, Hlc.LOGICAL_MAX, deviceId), sharedClock());
            HybridClock fresh = new HybridClock(deviceId, () -> 0L, start);
            Map<Hlc, Hlc> to = new HashMap<>();
            for (Hlc h : ahead) {
                to.put(h, fresh.now());
            }
            java.util.function.UnaryOperator<Hlc> map = h -> to.getOrDefault(h, h);
            Map<String, Change> rowsTouched = new LinkedHashMap<>(); // table/id: a change to the row
            int restamped = 0;
            for (int i = 0; i < unsent.size(); i++) {
                Change c = decoded.get(i);
                Change moved = ClockRelabel.change(c, map);
                if (moved.equals(c)) {
                    continue;
                }
                store.rewriteChange(unsent.get(i).seq(), codec.encodeChange(moved));
                rowsTouched.putIfAbsent(c.table() + "/" + c.rowId(), c);
                restamped++;
            }
            for (Change c : rowsTouched.values()) {
                Optional<LocalStore.StoredRow> stored = store.getRow(c.table(), c.rowId());
                if (stored.isPresent()) {
                    RowState row = rows.decode(
                            c.table(),
                            c.rowId(),
                            stored.get().scope(),
                            stored.get().state());
                    saveRow(schema.table(c.table()), ClockRelabel.row(row, map));
                }
            }
            if (!ahead.isEmpty()) {
                store.putMeta("clock", fresh.last().toString());
            }
            noteServerTime(p.serverTimeMs(), 0);
            return new int[] {setAside, restamped};
        });
    }

    /** Sets the refused changes aside; the others get a new batch id on the next round. */
    private int setAside(List<LocalStore.LoggedChange> batch, Problem p) {
        return store.inTransaction(() -> {
            int n = 0;
            for (Problem.Refused r : p.refused()) {
                if (r.index() >= 0 && r.index() < batch.size()) {
                    store.markRefused(batch.get(r.index()).seq(), r.code(), r.message());
                    n++;
                }
            }
            if (n == 0) {
                throw new DeviceException(ExitCode.REFUSED, "refused by the server: " + p.detail());
            }
            store.clearBatch(batch.stream().map(LocalStore.LoggedChange::seq).toList());
            return n;
        });
    }

    private void recordError(String message) {
        store.inTransaction(() -> {
            store.putMeta("last_sync_error", message);
            return null;
        });
    }

    private String meta(String key) {
        return meta(key, null);
    }

    private String meta(String key, String fallback) {
        return store.inTransaction(() -> store.getMeta(key).orElse(fallback));
    }

    // ---------------------------------------------------------------- helpers

    private Table table(String name) {
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

    private static void writeSecret(Path file, String secret) throws IOException {
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException e) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        }
        Files.writeString(file, secret);
    }

    private static String readSecret(Path file) {
        try {
            return Files.readString(file).trim();
        } catch (IOException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot read the credential " + file, e);
        }
    }

    @Override
    public void close() {
        store.close();
    }
}
