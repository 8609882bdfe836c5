package dev.outpost.device.cli;

import dev.outpost.device.DeviceException;
import dev.outpost.device.DeviceStatus;
import dev.outpost.device.Doctor;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.home.DatabaseKeySource;
import dev.outpost.device.http.LinkPolicy;
import dev.outpost.device.model.HealthCheck;
import dev.outpost.device.model.ModelTrust;
import dev.outpost.device.model.ModelUpdater;
import dev.outpost.device.render.Json;
import dev.outpost.device.rows.RefusedChange;
import dev.outpost.device.rows.RowChanges;
import dev.outpost.device.rows.RowRecord;
import dev.outpost.device.rows.Rows;
import dev.outpost.device.run.LocalApi;
import dev.outpost.device.run.ModelWorker;
import dev.outpost.device.run.SyncWorker;
import dev.outpost.device.sync.SyncRefused;
import dev.outpost.device.sync.SyncResult;
import dev.outpost.model.change.Op;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** What each command does once its arguments are parsed (declared in {@link OutpostCli}). */
final class Commands {
    private Commands() {}

    static int init(Invocation in) {
        String schema = in.option("--schema");
        String ca = in.option("--ca");
        String caPem = null;
        if (ca != null) {
            try {
                caPem = LinkPolicy.checkCa(Files.readString(Path.of(ca)), "--ca " + ca);
            } catch (IOException e) {
                throw new DeviceException(ExitCode.BAD_INPUT, "cannot read --ca " + ca + ": " + e.getMessage());
            }
        }
        LinkPolicy link = LinkPolicy.of(in.flag("--insecure"), caPem, String.join(",", in.values(in.option("--pin"))));
        in.out()
                .println(OutpostDevice.init(
                        in.home(),
                        in.option("--server"),
                        in.option("--device-id"),
                        in.option("--token"),
                        schema == null ? null : Path.of(schema),
                        in.values(in.option("--scope")),
                        new ModelTrust(keyOption(in, "--root-key"), keyOption(in, "--model-key")),
                        link,
                        keySource(in, "--db-key-", false)));
        return 0;
    }

    /** {@code outpost db-key}: encrypt the database, change its key, or ({@code --none}) decrypt it. */
    static int dbKey(Invocation in) {
        in.out().println(OutpostDevice.changeDatabaseKey(in.home(), keySource(in, "--", true)));
        return 0;
    }

    /** {@code outpost doctor}: the database's check, or ({@code --repair}) its rebuild around the unsent changes. */
    static int doctor(Invocation in) {
        if (in.flag("--repair")) {
            Optional<Doctor.Repair> repaired = Doctor.repair(in.home());
            if (repaired.isEmpty()) {
                in.out().println("the database is whole: nothing to repair");
                return 0;
            }
            Doctor.Repair r = repaired.get();
            in.out()
                    .println("database rebuilt: " + r.pending() + " unsent changes kept (and " + r.refused()
                            + " refused ones); the damaged file is kept as " + r.damagedKeptAs()
                            + "; run 'outpost sync' to fetch the rest from the service");
            return 0;
        }
        Doctor.Check check = Doctor.check(in.home());
        if (check.whole()) {
            in.out().println("the database is whole: " + check.database());
            return 0;
        }
        int more = check.problems().size() - 1;
        throw new DeviceException(
                ExitCode.STORAGE,
                "the database is damaged: " + check.problems().getFirst().strip()
                        + (more > 0 ? " (and " + more + " more)" : "")
                        + "; 'outpost doctor --repair' rebuilds it, keeping every unsent change");
    }

    /**
     * The database key source the options {@code PREFIXfile}, {@code PREFIXenv} and {@code PREFIXcommand} name (at
     * most one of them; {@code --none} too when {@code required}, which then asks for exactly one).
     */
    private static DatabaseKeySource keySource(Invocation in, String prefix, boolean required) {
        List<DatabaseKeySource> given = new java.util.ArrayList<>();
        String file = in.option(prefix + "file");
        if (file != null) {
            given.add(DatabaseKeySource.file(Path.of(file)));
        }
        String env = in.option(prefix + "env");
        if (env != null) {
            given.add(DatabaseKeySource.env(env));
        }
        String command = in.option(prefix + "command");
        if (command != null) {
            given.add(DatabaseKeySource.command(command));
        }
        if (required && in.flag("--none")) {
            given.add(DatabaseKeySource.NONE);
        }
        if (given.size() > 1 || (required && given.isEmpty())) {
            String names = prefix + "file, " + prefix + "env" + (required ? ", " : " or ") + prefix + "command"
                    + (required ? " or --none" : "");
            throw new DeviceException(ExitCode.USAGE, (required ? "give one of " : "give at most one of ") + names);
        }
        return given.isEmpty() ? DatabaseKeySource.NONE : given.getFirst();
    }

    /** A key option's value: the base64 key itself, or a file holding it (as {@code outpost keys} writes them). */
    private static String keyOption(Invocation in, String option) {
        String value = in.option(option);
        if (value == null || !Files.isRegularFile(Path.of(value))) {
            return value;
        }
        Path file = Path.of(value);
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT, "cannot read " + option + " " + value + ": " + e.getMessage());
        }
    }

    static int rotateToken(Invocation in, OutpostDevice device) {
        String expires = device.rotateToken();
        in.out().println("credential rotated" + (expires.isEmpty() ? "" : "; it expires at " + expires));
        return 0;
    }

    static int put(Invocation in, OutpostDevice device) {
        String[] assignments = in.positional(2);
        Map<String, String> values = new LinkedHashMap<>();
        for (String a : assignments) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new DeviceException(ExitCode.BAD_INPUT, "'" + a + "' is not FIELD=VALUE");
            }
            values.put(a.substring(0, eq), a.substring(eq + 1));
        }
        device.rows().put(in.positional(0), in.positional(1), values);
        return 0;
    }

    static int get(Invocation in, OutpostDevice device) {
        String table = in.positional(0);
        String id = in.positional(1);
        in.out()
                .println(Json.row(
                        device.rows()
                                .get(table, id)
                                .orElseThrow(() -> new DeviceException(ExitCode.BAD_INPUT, "no " + table + "/" + id)),
                        device.schema().scopeColumn()));
        return 0;
    }

    static int sync(Invocation in, OutpostDevice device) {
        SyncResult r;
        int code = 0;
        int schemaBefore = device.schema().version();
        try {
            r = device.sync();
        } catch (SyncRefused refused) {
            r = refused.result();
            in.err().println("outpost: " + refused.getMessage());
            code = ExitCode.REFUSED.code;
        }
        if (in.flag("--json")) {
            in.out().println(Json.syncResult(r, device.schema().version()));
        } else {
            device.lastSnapshot()
                    .ifPresent(s -> in.out()
                            .printf(
                                    "started from the snapshots of %s: %d rows, then the feed from %s%n",
                                    String.join(", ", s.scopes()), s.rows(), s.cursor()));
            in.out()
                    .printf(
                            "pushed %d, pulled %d, refused %d, conflicts opened %d%s%n",
                            r.pushed(),
                            r.pulled(),
                            r.refused(),
                            r.conflictsOpened(),
                            r.orphans() > 0 ? ", " + r.orphans() + " rows point at a missing parent" : "");
            if (r.restamped() > 0) {
                in.out()
                        .printf(
                                "re-stamped %d change(s): this device's clock runs ahead of the server's; it now stamps"
                                        + " from the server's time%n",
                                r.restamped());
            }
            if (device.schema().version() != schemaBefore) {
                in.out()
                        .printf(
                                "schema upgraded from version %d to %d (every pending change kept); %d value(s) the"
                                        + " old schema could not hold received%n",
                                schemaBefore, device.schema().version(), r.backfilled());
            }
        }
        return code;
    }

    static int status(Invocation in, OutpostDevice device) {
        DeviceStatus s = device.status();
        PrintWriter out = in.out();
        if (in.flag("--json")) {
            out.println(Json.status(s, device.codec(), device.models().statusJson()));
            return 0;
        }
        out.printf("device %s (%s) at %s%n", s.deviceId(), String.join(", ", s.scopes()), s.server());
        out.printf("pending changes: %d%n", s.pending());
        out.printf("refused changes: %d%n", s.refused().size());
        for (RefusedChange c : s.refused()) {
            out.printf("  %s%n", describe(c));
        }
        if (!s.refused().isEmpty()) {
            out.println("  ('outpost retry SEQ' sends one again, 'outpost discard SEQ' drops it)");
        }
        out.printf(
                "last sync: %s%s%n",
                s.lastSyncAt() == null ? "never" : s.lastSyncAt(),
                s.lastSyncError() == null || s.lastSyncError().isEmpty()
                        ? ""
                        : " (last error: " + s.lastSyncError() + ")");
        out.printf("cursor: %s%n", s.cursor() == null ? "start" : s.cursor());
        if (s.clockOffsetMs() != 0) {
            out.printf(
                    "clock: runs %.1f s ahead of the server's; changes are stamped from the server's time%n",
                    -s.clockOffsetMs() / 1000.0);
        }
        return 0;
    }

    static int refused(Invocation in, OutpostDevice device) {
        List<RefusedChange> refused = device.rows().refused();
        if (in.flag("--json")) {
            in.out().println(Json.refused(refused, device.codec()));
            return 0;
        }
        if (refused.isEmpty()) {
            in.out().println("no refused changes");
        }
        refused.forEach(c -> in.out().println(describe(c)));
        return 0;
    }

    /** One refused change on one line: seq, what it changed, the service's code and reason. */
    private static String describe(RefusedChange c) {
        return "#" + c.seq() + " " + c.change().table() + "/" + c.change().rowId()
                + (c.change().field() != null
                        ? "." + c.change().field()
                        : c.change().op() instanceof Op.Delete ? " (delete)" : " (restore)")
                + ": " + c.code() + ": " + c.message();
    }

    static int run(Invocation in, OutpostDevice device) {
        int port = in.option("--port");
        long intervalMs = in.<Long>option("--interval") * 1000;
        int healthTries = in.option("--health-tries");
        SyncWorker worker = new SyncWorker(device::sync, intervalMs);
        ModelWorker models =
                new ModelWorker(device, new HealthCheck(in.option("--health-cmd"), healthTries), intervalMs);
        worker.afterSync(models::nudge);
        LocalApi api;
        try {
            api = new LocalApi(device, worker, models, port);
        } catch (IOException e) {
            throw new DeviceException(ExitCode.USAGE, "cannot listen on 127.0.0.1:" + port + ": " + e.getMessage(), e);
        }
        Thread syncing = new Thread(worker, "outpost-sync");
        Thread installing = new Thread(models, "outpost-model");
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(
                () -> {
                    worker.stop();
                    models.stop();
                    api.stop();
                    try {
                        syncing.join(30_000);
                        installing.join(30_000);
                        stopped.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                },
                "outpost-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        api.start();
        syncing.start();
        installing.start();
        in.out().println("outpost run: " + device.deviceId() + " serving on 127.0.0.1:" + api.port());
        in.out().flush();
        try {
            syncing.join();
            installing.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stopped.countDown();
        return 0;
    }

    static int modelUpdate(Invocation in, OutpostDevice device) {
        ModelUpdater models = device.models();
        if (!in.flag("--offline")) {
            models.checkIn();
        }
        int healthTries = in.option("--health-tries");
        HealthCheck health = new HealthCheck(in.option("--health-cmd"), healthTries);
        String artifact = in.positional(0);
        List<String> names = artifact != null ? List.of(artifact) : models.artifacts();
        if (names.isEmpty()) {
            throw new DeviceException(ExitCode.BAD_INPUT, "no model is assigned to this device yet");
        }
        DeviceException failed = null;
        for (String name : names) {
            ProgressBar bar = new ProgressBar(in.err());
            try {
                long start = System.nanoTime();
                ModelUpdater.Outcome outcome = models.update(name, health, bar);
                // The update itself: plan, download, assembly, verification, switch, health check (not the
                // process start or the check-in).
                in.out().printf("%s (%.2f s)%n", outcome.describe(), (System.nanoTime() - start) / 1e9);
            } catch (DeviceException e) {
                if (names.size() == 1) {
                    throw e;
                }
                // One artifact's failure does not hold the others back; the first failure sets the exit code.
                in.err().println("outpost: " + name + ": " + e.getMessage());
                failed = failed == null ? e : failed;
            } finally {
                bar.finish();
            }
        }
        return failed == null ? 0 : failed.exitCode().code;
    }

    static String onlyArtifact(ModelUpdater models, String artifact) {
        if (artifact != null) {
            return artifact;
        }
        List<String> all = models.artifacts();
        if (all.size() != 1) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT,
                    all.isEmpty()
                            ? "no model is assigned to this device yet (sync first)"
                            : "several models here (" + String.join(", ", all) + "): name one");
        }
        return all.getFirst();
    }

    static int query(Invocation in, OutpostDevice device) {
        String[] params = in.positional(1);
        for (Map<String, Object> row : device.rows().query(in.positional(0), in.values(params))) {
            in.out().println(Json.queryRow(row));
        }
        return 0;
    }

    /** Prints the changes feed as it grows; a reset (the reader fell behind what is kept) is said on its own line. */
    static int watch(Invocation in, OutpostDevice device) {
        String table = in.positional(0);
        Long after = in.option("--after");
        Integer count = in.option("--count");
        if (count != null && count < 1) {
            throw new DeviceException(ExitCode.BAD_INPUT, "--count is 1 or more");
        }
        String scope = device.schema().scopeColumn();
        long seq = after != null ? after : device.rows().changesHead();
        int left = count == null ? Integer.MAX_VALUE : count;
        while (left > 0 && !Thread.currentThread().isInterrupted()) {
            RowChanges page = device.rows()
                    .changes(seq, table, Math.min(left, Rows.LIST_LIMIT_DEFAULT), Rows.CHANGES_WAIT_MAX_S * 1000L);
            if (page.reset()) {
                in.out().println(Json.changesReset(page.last()));
            }
            for (RowChanges.Entry e : page.changes()) {
                in.out().println(Json.rowChange(e, scope));
            }
            in.out().flush();
            left -= page.changes().size();
            seq = page.last();
        }
        return 0;
    }

    static int list(Invocation in, OutpostDevice device) {
        String table = in.positional(0);
        String scope = device.schema().scopeColumn();
        String[] where = in.option("--where");
        String order = in.option("--order");
        Integer limit = in.option("--limit");
        String after = in.option("--after");
        boolean desc = in.flag("--desc");
        List<RowRecord> rows;
        if (where == null && order == null && limit == null && after == null && !desc) {
            rows = device.rows().list(table);
        } else {
            Map<String, String> filters = new LinkedHashMap<>();
            for (String w : in.values(where)) {
                int eq = w.indexOf('=');
                if (eq <= 0) {
                    throw new DeviceException(ExitCode.BAD_INPUT, "'" + w + "' is not FIELD=VALUE");
                }
                filters.put(w.substring(0, eq), w.substring(eq + 1));
            }
            rows = device.rows()
                    .find(
                            table,
                            new Rows.Selection(
                                    filters, order, desc, limit == null ? Rows.LIST_LIMIT_DEFAULT : limit, after));
        }
        rows.forEach(r -> in.out().println(Json.row(r, scope)));
        return 0;
    }
}
