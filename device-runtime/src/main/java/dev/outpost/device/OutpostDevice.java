package dev.outpost.device;

import dev.outpost.device.clock.DeviceClock;
import dev.outpost.device.home.DatabaseKeySource;
import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.http.HttpSyncLink;
import dev.outpost.device.http.LinkPolicy;
import dev.outpost.device.http.SyncTransport;
import dev.outpost.device.model.ArtifactClient;
import dev.outpost.device.model.ArtifactLink;
import dev.outpost.device.model.ModelTrust;
import dev.outpost.device.model.ModelUpdater;
import dev.outpost.device.rows.RowStates;
import dev.outpost.device.rows.Rows;
import dev.outpost.device.sqlite.SqliteChangeFeed;
import dev.outpost.device.sqlite.SqliteChangeLog;
import dev.outpost.device.sqlite.SqliteDatabase;
import dev.outpost.device.sqlite.SqliteModelState;
import dev.outpost.device.sqlite.SqliteReports;
import dev.outpost.device.sqlite.SqliteRows;
import dev.outpost.device.sqlite.SqliteSettings;
import dev.outpost.device.sqlite.SqliteTypedTables;
import dev.outpost.device.store.ChangeFeed;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.device.store.Transactions;
import dev.outpost.device.sync.Problem;
import dev.outpost.device.sync.SnapshotBootstrap;
import dev.outpost.device.sync.SyncClient;
import dev.outpost.device.sync.SyncLink;
import dev.outpost.device.sync.SyncRefused;
import dev.outpost.device.sync.SyncResult;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireLimits;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The composition root: opens a device home and wires its parts (SQLite adapters behind the store ports, the clock,
 * the rows, the sync client over HTTP, model installs). It holds no logic of its own beyond {@link #init}, which
 * sets a home up. Start reading at {@link Rows} (local writes and reads) and {@link SyncClient} (one sync).
 */
public final class OutpostDevice implements AutoCloseable {
    private final DeviceHome home;
    private final SqliteDatabase db;
    private final String deviceId;
    private final Settings settings;
    private final ChangeLog log;
    private final SqliteTypedTables typed;
    private final SqliteChangeFeed feed;
    private final LongSupplier wallMs;
    /** What hangs on the schema; replaced whole when the schema is upgraded in the field. */
    private volatile OnSchema on;

    private record OnSchema(Schema schema, WireCodec codec, DeviceClock clock, Rows rows) {}

    private OutpostDevice(DeviceHome home, SqliteDatabase db, Schema fileSchema, LongSupplier wallMs) {
        this.home = home;
        this.db = db;
        this.wallMs = wallMs;
        this.settings = new SqliteSettings(db);
        this.log = new SqliteChangeLog(db);
        this.deviceId = db.inTransaction(() -> settings.get(Setting.DEVICE_ID))
                .orElseThrow(() -> new DeviceException(
                        ExitCode.STORAGE,
                        "the device home " + home.dir() + " has no device id: its database is damaged"));
        this.typed = new SqliteTypedTables(db, fileSchema.scopeColumn());
        this.feed = new SqliteChangeFeed(db);
        Schema schema =
                upgradedSchema().filter(s -> s.version() > fileSchema.version()).orElse(fileSchema);
        if (schema != fileSchema) {
            // The upgrade committed but its files were not written (a crash right after): written now.
            writeSchemaFiles(schema);
        }
        this.on = onSchema(schema);
        keepTypedTables(schema);
    }

    private OnSchema onSchema(Schema schema) {
        WireCodec codec = new WireCodec(schema, WireLimits.DEFAULT);
        DeviceClock clock = new DeviceClock(deviceId, settings, log, wallMs);
        return new OnSchema(
                schema, codec, clock, new Rows(schema, db, new SqliteRows(db), log, settings, clock, typed, feed));
    }

    /** The schema this device upgraded to in the field, as its database holds it. */
    private java.util.Optional<Schema> upgradedSchema() {
        return db.inTransaction(() -> settings.get(Setting.SCHEMA))
                .filter(json -> !json.isEmpty())
                .map(SchemaLoader::parseJson);
    }

    /** Creates a device home. Learns the device's scopes from the server if it answers; works offline too. */
    public static String init(
            Path dir, String server, String deviceId, String token, Path schemaFile, List<String> scopes) {
        return init(dir, server, deviceId, token, schemaFile, scopes, null);
    }

    /** As above, pinning {@code modelKey} (base64 X.509 Ed25519) as the only key model updates are trusted with. */
    public static String init(
            Path dir,
            String server,
            String deviceId,
            String token,
            Path schemaFile,
            List<String> scopes,
            String modelKey) {
        return init(dir, server, deviceId, token, schemaFile, scopes, ModelTrust.pinned(modelKey), LinkPolicy.DEFAULT);
    }

    /**
     * As above, with model documents trusted as {@code trust} says (the operator's root key, or one pinned key) and the
     * links to the server kept to {@code link} (its trust, pins and whether http may go far).
     */
    public static String init(
            Path dir,
            String server,
            String deviceId,
            String token,
            Path schemaFile,
            List<String> scopes,
            ModelTrust trust,
            LinkPolicy link) {
        return init(dir, server, deviceId, token, schemaFile, scopes, trust, link, DatabaseKeySource.NONE);
    }

    /** As above, with the database encrypted by the key {@code dbKey} fetches (NONE: not encrypted). */
    public static String init(
            Path dir,
            String server,
            String deviceId,
            String token,
            Path schemaFile,
            List<String> scopes,
            ModelTrust trust,
            LinkPolicy link,
            DatabaseKeySource dbKey) {
        DeviceHome home = new DeviceHome(dir);
        try {
            link.checkServer(java.net.URI.create(server));
        } catch (IllegalArgumentException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, "--server '" + server + "' is not a URL");
        }
        trust.check();
        if (home.isSetUp()) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT, "a device is already set up in " + dir + "; use another --home");
        }
        if (!ChangeValidator.isRowId(deviceId)) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT, "device id '" + deviceId + "' is not 1-64 letters, digits, '-', '_', '.', ':'");
        }
        String schemaText;
        Schema schema;
        try {
            schemaText = schemaFile == null ? SchemaLoader.farmExampleText() : Files.readString(schemaFile);
            schema = schemaFile == null ? SchemaLoader.farmExample() : SchemaLoader.parse(schemaText);
        } catch (OutpostException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, e.getMessage(), e);
        } catch (IOException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, "cannot read " + schemaFile + ": " + e.getMessage(), e);
        }
        List<String> granted = new ArrayList<>(scopes);
        String note = "";
        if (granted.isEmpty()) {
            try {
                SyncTransport.Answer a = new SyncTransport(server, token, link).get("v1/device");
                if (a.status() != 200) {
                    Problem p = Problem.parse(a.status(), a.body());
                    throw new DeviceException(ExitCode.REFUSED, "the server refused the credential: " + p.detail());
                }
                granted.addAll(JsonFields.strings(new String(a.body(), StandardCharsets.UTF_8), "scopes"));
            } catch (DeviceException e) {
                if (e.exitCode() != ExitCode.UNREACHABLE) {
                    throw e;
                }
                note = " (server unreachable: scopes unknown until --scope is given or init is run online)";
            }
        }
        String key = dbKey.key(); // before anything is written: a key that cannot be had leaves no half home
        home.lockDown();
        home.writeCredential(token);
        home.writeSchema(schemaText, schema);
        if (dbKey.encrypted()) {
            home.writePendingDatabaseKeySource(dbKey);
            home.promotePendingDatabaseKeySource();
        }
        try (SqliteDatabase db = SqliteDatabase.open(home.database(), key)) {
            Settings settings = new SqliteSettings(db);
            db.run(() -> {
                settings.put(Setting.DEVICE_ID, deviceId);
                settings.put(Setting.SERVER, server);
                settings.put(Setting.SCHEMA_VERSION, Integer.toString(schema.version()));
                settings.put(Setting.SCOPES, String.join(",", granted));
                if (trust.pinnedKey() != null) {
                    settings.put(Setting.MODEL_SIGNING_KEY, trust.pinnedKey());
                }
                if (trust.rootKey() != null) {
                    settings.put(Setting.MODEL_ROOT_KEY, trust.rootKey());
                }
                if (link.insecureHttp()) {
                    settings.put(Setting.LINK_INSECURE, "true");
                }
                if (link.caPem() != null) {
                    settings.put(Setting.LINK_CA, link.caPem());
                }
                if (!link.pins().isEmpty()) {
                    settings.put(Setting.LINK_PINS, String.join(",", new java.util.TreeSet<>(link.pins())));
                }
            });
        }
        return "device " + deviceId + " ready in " + dir + " (schema version " + schema.version() + ", scopes "
                + (granted.isEmpty() ? "none yet" : String.join(", ", granted)) + ")" + note;
    }

    /** A database file's ports alone, no rows or schema: what the doctor salvages from and rebuilds into. */
    public record Store(Transactions tx, ChangeLog log, Settings settings, Runnable closer) implements AutoCloseable {
        @Override
        public void close() {
            closer.run();
        }
    }

    /** Opens {@code file} (created when missing, migrated) with {@code key} as its bare store. */
    public static Store openStore(Path file, String key) {
        SqliteDatabase db = SqliteDatabase.open(file, key);
        return new Store(db, new SqliteChangeLog(db), new SqliteSettings(db), db::close);
    }

    /** SQLite's full check of {@code file}: at most {@code max} problems, none when it is whole. */
    public static List<String> integrityProblems(Path file, String key, int max) {
        return SqliteDatabase.integrityProblems(file, key, max);
    }

    public static OutpostDevice open(Path dir) {
        return open(dir, System::currentTimeMillis);
    }

    /** Opens a home whose clock reads {@code wallMs} (tests move it). */
    public static OutpostDevice open(Path dir, LongSupplier wallMs) {
        DeviceHome home = new DeviceHome(dir).requireSetUp();
        home.lockDown();
        Schema schema = home.schema();
        SqliteDatabase db = openDatabase(home);
        try {
            return new OutpostDevice(home, db, schema, wallMs);
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
    }

    /**
     * Opens the home's database with the key its source gives. A key change that stopped midway (its pending source
     * still there) is settled first: whichever of the two keys opens the file is the one in force.
     */
    private static SqliteDatabase openDatabase(DeviceHome home) {
        var pending = home.pendingDatabaseKeySource();
        if (pending.isPresent()) {
            // The old key first: if it opens the file, the change did not happen, whatever the new key's source
            // says now (a keystore that is locked, a variable not set).
            if (opensWith(home, home.databaseKeySource())) {
                home.dropPendingDatabaseKeySource();
            } else if (SqliteDatabase.opensWith(home.database(), pending.get().key())) {
                home.promotePendingDatabaseKeySource();
            }
        }
        return SqliteDatabase.open(home.database(), home.databaseKeySource().key());
    }

    /** Whether the key {@code source} fetches opens the home's database; false when it cannot be fetched. */
    private static boolean opensWith(DeviceHome home, DatabaseKeySource source) {
        String key;
        try {
            key = source.key();
        } catch (DeviceException e) {
            return false;
        }
        return SqliteDatabase.opensWith(home.database(), key);
    }

    /**
     * Encrypts the home's database with the key {@code next} fetches, moves it to another key, or (NONE) decrypts it.
     * The new source is written beside the old one first and takes its place once the database has changed key, so a
     * crash at any point leaves a home that opens ({@link #openDatabase}). Needs the database to itself: with
     * {@code outpost run} going, nothing changes (exit 5).
     */
    public static String changeDatabaseKey(Path dir, DatabaseKeySource next) {
        DeviceHome home = new DeviceHome(dir).requireSetUp();
        home.lockDown();
        String newKey = next.key();
        try (SqliteDatabase db = openDatabase(home)) {
            home.writePendingDatabaseKeySource(next);
            try {
                db.rekey(newKey);
            } catch (RuntimeException e) {
                home.dropPendingDatabaseKeySource();
                throw e;
            }
            home.promotePendingDatabaseKeySource();
        }
        return next.encrypted()
                ? "database " + home.database() + " encrypted; its key comes from " + next
                : "database " + home.database() + " is no longer encrypted";
    }

    public String deviceId() {
        return deviceId;
    }

    public Schema schema() {
        return on.schema();
    }

    public WireCodec codec() {
        return on.codec();
    }

    public DeviceHome home() {
        return home;
    }

    /** Local writes, reads, conflicts and refused changes. */
    public Rows rows() {
        return on.rows();
    }

    /**
     * One sync over HTTP. When the service runs a newer schema that only adds to this device's (it says so on its
     * answers, or refuses this device's version as no longer served), the device upgrades itself ({@link
     * #upgradeSchema}) and syncs again: the backfill brings what its old schema could not hold.
     */
    public SyncResult sync() {
        ArtifactClient link = new ArtifactClient(server(), home.credential(), linkPolicy());
        lastSnapshot = bootstrap(new ArtifactClient(server(), home.credential(), linkPolicy(), 1), link);
        try {
            return sync(this::httpLink);
        } catch (SyncClient.BehindHorizon behind) {
            lastSnapshot = Optional.of(rejoin(link, behind));
            return sync(this::httpLink);
        }
    }

    /**
     * The service compacted its feed past this device's cursor: the device installs its scopes' latest snapshots over
     * what it holds (every pending change kept, and sent by the sync that follows) and pulls from their cursor.
     */
    public SnapshotBootstrap.Installed rejoin(ArtifactLink link, DeviceException behind) {
        return snapshots(link, link)
                .rejoin()
                .orElseThrow(() -> new DeviceException(
                        ExitCode.REFUSED,
                        behind.getMessage() + "; the service has no snapshot of this device's schema version "
                                + schema().version() + " to start again from (every local change is kept)"));
    }

    private Optional<SnapshotBootstrap.Installed> lastSnapshot = Optional.empty();

    /** The snapshots the last {@link #sync()} installed before it pulled (a fresh device's first sync). */
    public Optional<SnapshotBootstrap.Installed> lastSnapshot() {
        return lastSnapshot;
    }

    /**
     * A fresh device starts from its scopes' snapshots (docs/protocol.md, "Snapshots") instead of their whole feed;
     * a service without them (or refusing them) leaves it to the feed.
     */
    public Optional<SnapshotBootstrap.Installed> bootstrap(ArtifactLink lister, ArtifactLink link) {
        return snapshots(lister, link).runIfFresh();
    }

    private SnapshotBootstrap snapshots(ArtifactLink lister, ArtifactLink link) {
        OnSchema now = on;
        RowStates states = new RowStates(now.schema(), new SqliteRows(db), typed, feed, ChangeFeed.Origin.SYNC);
        return new SnapshotBootstrap(
                lister,
                link,
                home.database().resolveSibling("snapshots"),
                now.schema(),
                db,
                states,
                settings,
                now.clock(),
                () -> {
                    Map<String, List<Change>> byRow = new java.util.HashMap<>();
                    for (ChangeLog.LoggedChange l : log.findUnsent()) {
                        Change c = now.codec().decodeChange(l.change());
                        byRow.computeIfAbsent(RowStates.key(c.table(), c.rowId()), k -> new ArrayList<>())
                                .add(c);
                    }
                    return byRow;
                });
    }

    /** As {@link #sync()}, over the links {@code links} gives (one per sync client; tests give in-memory ones). */
    public SyncResult sync(java.util.function.Supplier<SyncLink> links) {
        SyncResult result;
        try {
            result = completed(links);
        } catch (SyncClient.SchemaOutdated outdated) {
            if (!upgradeSchema(links.get())) {
                throw outdated;
            }
            return finish(completed(links));
        }
        if (result.serverSchemaVersion() > schema().version() && upgradeSchema(links.get())) {
            result = result.then(completed(links));
        }
        return finish(result);
    }

    /** A sync's result, refused changes and all (they are set aside; {@link #finish} says so). */
    private SyncResult completed(java.util.function.Supplier<SyncLink> links) {
        try {
            return syncClient(links.get()).sync();
        } catch (SyncRefused r) {
            return r.result();
        }
    }

    private static SyncResult finish(SyncResult r) {
        if (r.refused() > 0) {
            throw new SyncRefused(r);
        }
        return r;
    }

    /**
     * Upgrades this device to the schema the service runs now, when it is newer and only adds to this device's (new
     * tables, new fields, indexes): in one transaction the typed tables get their new tables and columns, the
     * schema is stored, the upgrade recorded, and a backfill set up; every pending change stays as it is. Then the
     * home's schema files are rewritten. Returns false when the service's schema is not newer. A schema that is not
     * additive is refused with exit code 4, changing nothing: the device must be set up again.
     */
    public boolean upgradeSchema(SyncLink link) {
        Schema current = schema();
        Schema newer;
        try {
            newer = SchemaLoader.parseJson(link.currentSchema());
        } catch (OutpostException e) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE, "the server's schema could not be read: " + e.getMessage(), e);
        }
        if (newer.version() <= current.version()) {
            return false;
        }
        List<String> problems = newer.incompatibilitiesWith(current);
        if (!problems.isEmpty()) {
            throw new DeviceException(
                    ExitCode.REFUSED,
                    "the server runs schema version " + newer.version() + ", which does not only add to this device's"
                            + " version " + current.version() + " (" + String.join("; ", problems) + "): set the"
                            + " device up again; every local change is kept until then");
        }
        String at = java.time.Instant.ofEpochMilli(wallMs.getAsLong()).toString();
        db.run(() -> {
            makeTypedTables(newer);
            settings.put(Setting.SCHEMA, SchemaLoader.toJson(newer));
            settings.put(Setting.SCHEMA_VERSION, Integer.toString(newer.version()));
            settings.put(
                    Setting.SCHEMA_UPGRADES,
                    settings.get(Setting.SCHEMA_UPGRADES).orElse("") + current.version() + " -> " + newer.version()
                            + " at " + at + "\n");
            // A backfill still running keeps its older version, and starts again: what the version just left
            // could not hold was held back from its pages so far.
            String from = settings.get(Setting.BACKFILL_FROM).orElse("");
            settings.put(Setting.BACKFILL_FROM, from.isEmpty() ? Integer.toString(current.version()) : from);
            settings.put(Setting.BACKFILL_CURSOR, "");
        });
        writeSchemaFiles(newer);
        on = onSchema(newer);
        return true;
    }

    private void writeSchemaFiles(Schema schema) {
        home.writeSchema(
                "# Schema version " + schema.version() + " as the service sent it: this device upgraded itself to it"
                        + " in the field (JSON is YAML).\n" + SchemaLoader.toJson(schema) + "\n",
                schema);
    }

    /**
     * Asks the service for a new credential and keeps it (the file replaced whole, 0600). The service keeps the
     * replaced token valid for ten minutes, so a failure between its answer and the file costs nothing: run it again.
     * Answers the new token's expiry ("" for none). Exit 3 unreachable, 4 refused (a revoked or expired credential).
     */
    public String rotateToken() {
        SyncTransport transport = new SyncTransport(server(), home.credential(), linkPolicy());
        SyncTransport.Answer a =
                transport.post("v1/device/token", "application/json", "{}".getBytes(StandardCharsets.UTF_8));
        if (a.status() != 200) {
            Problem p = Problem.parse(a.status(), a.body());
            // 429 and 5xx say "later"; anything else (revoked, expired) will not change by asking again.
            ExitCode code = a.status() == 429 || a.status() >= 500 ? ExitCode.UNREACHABLE : ExitCode.REFUSED;
            throw new DeviceException(code, "the server refused to rotate the credential: " + p.detail());
        }
        String body = new String(a.body(), StandardCharsets.UTF_8);
        String token = JsonFields.string(body, "token")
                .filter(t -> !t.isBlank())
                .orElseThrow(() -> new DeviceException(ExitCode.REFUSED, "the rotation's answer holds no token"));
        home.replaceCredential(token);
        return JsonFields.string(body, "expiresAt").orElse("");
    }

    /** How links to the server must be, as {@code init} set it. */
    public LinkPolicy linkPolicy() {
        return db.inTransaction(() -> LinkPolicy.of(
                settings.get(Setting.LINK_INSECURE).map(Boolean::parseBoolean).orElse(false),
                settings.get(Setting.LINK_CA).orElse(null),
                settings.get(Setting.LINK_PINS).orElse("")));
    }

    private SyncLink httpLink() {
        return new HttpSyncLink(new SyncTransport(server(), home.credential(), linkPolicy()), codec());
    }

    /** A sync client over the HTTP link to the device's server; install reports go out after each sync. */
    public SyncClient syncClient() {
        return syncClient(httpLink());
    }

    /** A sync client over {@code link} (tests give an in-memory one), on the schema the device runs now. */
    public SyncClient syncClient(SyncLink link) {
        ModelUpdater models = models();
        OnSchema now = on;
        RowStates states = new RowStates(now.schema(), new SqliteRows(db), typed, feed, ChangeFeed.Origin.SYNC);
        return new SyncClient(deviceId, now.schema(), db, states, log, settings, now.clock(), link, wallMs)
                .onAssignments(models::rememberAssignments)
                .afterSync(models::flushReports);
    }

    /** Model installs for this device (the system clock decides assignment expiry). */
    public ModelUpdater models() {
        return models(System::currentTimeMillis);
    }

    /** Model installs with the given clock for assignment expiry. */
    public ModelUpdater models(LongSupplier clockMs) {
        return models(new ArtifactClient(server(), home.credential(), linkPolicy()), clockMs);
    }

    /** Model installs over {@code link} (tests give an in-memory one). */
    public ModelUpdater models(ArtifactLink link, LongSupplier clockMs) {
        return new ModelUpdater(
                db, new SqliteModelState(db), new SqliteReports(db), settings, home.models(), link, clockMs);
    }

    public DeviceStatus status() {
        return db.inTransaction(() -> new DeviceStatus(
                deviceId,
                settings.get(Setting.SERVER).orElse(""),
                on.rows().scopes(),
                log.countPending(),
                on.rows().refused(),
                settings.get(Setting.LAST_SYNC_AT).orElse(null),
                settings.get(Setting.LAST_SYNC_ERROR).orElse(null),
                settings.get(Setting.CURSOR).orElse(null),
                on.clock().offsetMs()));
    }

    /**
     * Creates the typed tables the schema names, or adds the columns they lack, and fills the ones created from the
     * stored rows, in one transaction; skipped at once when the schema is the one they were made for (every command
     * opens the device).
     */
    private void keepTypedTables(Schema schema) {
        db.run(() -> {
            if (settings.get(Setting.TYPED_TABLES)
                    .filter(typedLayout(schema)::equals)
                    .isEmpty()) {
                makeTypedTables(schema);
            }
        });
    }

    /** In the caller's transaction: the typed tables made for {@code schema}, new ones filled, the layout noted. */
    private void makeTypedTables(Schema schema) {
        RowStates states = new RowStates(schema, new SqliteRows(db), typed, feed, ChangeFeed.Origin.SYNC);
        for (String table : typed.ensure(schema)) {
            states.fillTyped(table);
        }
        settings.put(Setting.TYPED_TABLES, typedLayout(schema));
    }

    /**
     * What the typed tables are made from: the scope column and each table's columns with their types, merge policies
     * (which decide a never-written field's value) and indexes. Built from the schema in hand, so an open does not
     * serialise the whole schema to find out that nothing changed.
     */
    private static String typedLayout(Schema schema) {
        StringBuilder b = new StringBuilder(schema.scopeColumn());
        for (var t : schema.tables().values()) {
            b.append(';').append(t.name());
            for (var c : t.columns().values()) {
                b.append(',')
                        .append(c.name())
                        .append(':')
                        .append(c.type().key())
                        .append(':')
                        .append(c.merge().key())
                        .append(c.indexed() ? ":index" : "");
            }
        }
        return b.toString();
    }

    private String server() {
        return db.inTransaction(() -> settings.get(Setting.SERVER).orElse(""));
    }

    @Override
    public void close() {
        typed.close();
        db.close();
    }
}
