package dev.outpost.device.cli;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.store.LocalStore;
import dev.outpost.model.wire.JsonText;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * The {@code outpost} command line (DESIGN.md section 6). Exit codes: 0 ok, 1 usage, 2 bad input, 3 server
 * unreachable (nothing lost), 4 refused by the server, 5 local storage problem. Errors are one line on stderr.
 */
@Command(
        name = "outpost",
        mixinStandardHelpOptions = true,
        version = "outpost 0.1.0",
        description = "Offline-first field data: edit locally, sync when a link appears.",
        subcommands = {
            OutpostCli.Init.class,
            OutpostCli.Put.class,
            OutpostCli.Get.class,
            OutpostCli.ListRows.class,
            OutpostCli.Delete.class,
            OutpostCli.Add.class,
            OutpostCli.Tag.class,
            OutpostCli.Sync.class,
            OutpostCli.Status.class,
            OutpostCli.Conflicts.class,
            OutpostCli.Run.class,
            OutpostCli.Model.class
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:ok",
            "1:usage error",
            "2:bad input (nothing was written)",
            "3:server unreachable (nothing lost; sync again later)",
            "4:refused by the server (see the message; refused changes stay listed by 'outpost status')",
            "5:local storage problem"
        })
public final class OutpostCli {
    @Option(names = "--home", description = "device home (default: $OUTPOST_HOME, else ~/.outpost)")
    Path home;

    Path home() {
        if (home != null) {
            return home;
        }
        String env = System.getenv("OUTPOST_HOME");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".outpost");
    }

    public static void main(String... args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs one command; returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new OutpostCli());
        // "tag ... -aphids" and "add ... -2" are values, not options.
        cli.setUnmatchedOptionsArePositionalParams(true);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof DeviceException d) {
                err.println("outpost: " + d.getMessage());
                return d.exitCode().code;
            }
            err.println("outpost: unexpected failure: " + e);
            return ExitCode.STORAGE.code;
        });
        cli.setParameterExceptionHandler((e, args2) -> {
            err.println("outpost: " + e.getMessage());
            err.println("run 'outpost --help' for usage");
            return ExitCode.USAGE.code;
        });
        return cli.execute(args);
    }

    @Command
    abstract static class DeviceCommand implements Callable<Integer> {
        @ParentCommand
        OutpostCli parent;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        @Override
        public Integer call() {
            try (OutpostDevice device = OutpostDevice.open(parent.home())) {
                return run(device);
            }
        }

        abstract int run(OutpostDevice device);
    }

    @Command(name = "init", description = "Set up this device: server, identity and credential.")
    static final class Init implements Callable<Integer> {
        @ParentCommand
        OutpostCli parent;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--server", required = true, description = "sync service URL")
        String server;

        @Option(names = "--device-id", required = true)
        String deviceId;

        @Option(
                names = "--token",
                required = true,
                description = "the device token from registration (stored with mode 0600)")
        String token;

        @Option(names = "--schema", description = "schema file (default: the bundled farm schema)")
        Path schema;

        @Option(names = "--scope", description = "granted scope, when initialising offline (repeatable)")
        List<String> scopes = new ArrayList<>();

        @Option(
                names = "--model-key",
                description = "the service's model signing key (base64 X.509) to pin; default: pinned from the"
                        + " service on the first model update")
        String modelKey;

        @Override
        public Integer call() {
            spec.commandLine()
                    .getOut()
                    .println(OutpostDevice.init(parent.home(), server, deviceId, token, schema, scopes, modelKey));
            return 0;
        }
    }

    @Command(name = "put", description = "Write fields of a row (VALUE is JSON if it parses, else a string).")
    static final class Put extends DeviceCommand {
        @Parameters(index = "0")
        String table;

        @Parameters(index = "1")
        String id;

        @Parameters(index = "2..*", arity = "1..*", paramLabel = "FIELD=VALUE")
        List<String> assignments;

        @Override
        int run(OutpostDevice device) {
            Map<String, String> values = new LinkedHashMap<>();
            for (String a : assignments) {
                int eq = a.indexOf('=');
                if (eq <= 0) {
                    throw new DeviceException(ExitCode.BAD_INPUT, "'" + a + "' is not FIELD=VALUE");
                }
                values.put(a.substring(0, eq), a.substring(eq + 1));
            }
            device.put(table, id, values);
            return 0;
        }
    }

    @Command(name = "get", description = "One row as a JSON object.")
    static final class Get extends DeviceCommand {
        @Parameters(index = "0")
        String table;

        @Parameters(index = "1")
        String id;

        @Override
        int run(OutpostDevice device) {
            String json = device.get(table, id)
                    .orElseThrow(() -> new DeviceException(ExitCode.BAD_INPUT, "no " + table + "/" + id));
            out().println(json);
            return 0;
        }
    }

    @Command(name = "list", description = "Every row of a table, one JSON object per line.")
    static final class ListRows extends DeviceCommand {
        @Parameters(index = "0")
        String table;

        @Override
        int run(OutpostDevice device) {
            device.list(table).forEach(out()::println);
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete a row.")
    static final class Delete extends DeviceCommand {
        @Parameters(index = "0")
        String table;

        @Parameters(index = "1")
        String id;

        @Override
        int run(OutpostDevice device) {
            device.delete(table, id);
            return 0;
        }
    }

    @Command(name = "add", description = "Add N (may be negative) to a counter field.")
    static final class Add extends DeviceCommand {
        @Parameters(index = "0")
        String table;

        @Parameters(index = "1")
        String id;

        @Parameters(index = "2")
        String field;

        @Parameters(index = "3", paramLabel = "N")
        long delta;

        @Override
        int run(OutpostDevice device) {
            device.add(table, id, field, delta);
            return 0;
        }
    }

    @Command(name = "tag", description = "Add (+element) or remove (-element) elements of a set field.")
    static final class Tag extends DeviceCommand {
        @Parameters(index = "0")
        String table;

        @Parameters(index = "1")
        String id;

        @Parameters(index = "2")
        String field;

        @Parameters(index = "3..*", arity = "1..*", paramLabel = "+a|-b")
        List<String> edits;

        @Override
        int run(OutpostDevice device) {
            device.tag(table, id, field, edits);
            return 0;
        }
    }

    @Command(name = "sync", description = "One sync round: push every pending change, pull every page.")
    static final class Sync extends DeviceCommand {
        @Option(names = "--json")
        boolean json;

        @Override
        int run(OutpostDevice device) {
            OutpostDevice.SyncResult r;
            int code = 0;
            try {
                r = device.sync();
            } catch (OutpostDevice.SyncRefused refused) {
                r = refused.result;
                spec.commandLine().getErr().println("outpost: " + refused.getMessage());
                code = ExitCode.REFUSED.code;
            }
            if (json) {
                out().printf(
                                "{\"pushed\":%d,\"pulled\":%d,\"refused\":%d,\"conflictsOpened\":%d,\"orphans\":%d,"
                                        + "\"restamped\":%d}%n",
                                r.pushed(), r.pulled(), r.refused(), r.conflictsOpened(), r.orphans(), r.restamped());
            } else {
                out().printf(
                                "pushed %d, pulled %d, refused %d, conflicts opened %d%s%n",
                                r.pushed(),
                                r.pulled(),
                                r.refused(),
                                r.conflictsOpened(),
                                r.orphans() > 0 ? ", " + r.orphans() + " rows point at a missing parent" : "");
                if (r.restamped() > 0) {
                    out().printf(
                                    "re-stamped %d change(s): this device's clock runs ahead of the server's; it now stamps"
                                            + " from the server's time%n",
                                    r.restamped());
                }
            }
            return code;
        }
    }

    @Command(name = "status", description = "Pending and refused changes, last sync, cursor.")
    static final class Status extends DeviceCommand {
        @Option(names = "--json")
        boolean json;

        @Override
        int run(OutpostDevice device) {
            OutpostDevice.Status s = device.status();
            if (json) {
                StringBuilder b = new StringBuilder("{");
                b.append("\"deviceId\":")
                        .append(JsonText.quote(s.deviceId()))
                        .append(",\"server\":")
                        .append(JsonText.quote(s.server()))
                        .append(",\"scopes\":[")
                        .append(String.join(
                                ",", s.scopes().stream().map(JsonText::quote).toList()))
                        .append(']')
                        .append(",\"pending\":")
                        .append(s.pending())
                        .append(",\"refused\":[");
                for (int i = 0; i < s.refused().size(); i++) {
                    LocalStore.LoggedChange c = s.refused().get(i);
                    b.append(i == 0 ? "" : ",")
                            .append("{\"seq\":")
                            .append(c.seq())
                            .append(",\"code\":")
                            .append(JsonText.quote(String.valueOf(c.code())))
                            .append(",\"message\":")
                            .append(JsonText.quote(String.valueOf(c.message())))
                            .append(",\"change\":")
                            .append(c.change())
                            .append('}');
                }
                b.append("],\"lastSyncAt\":")
                        .append(s.lastSyncAt() == null ? "null" : JsonText.quote(s.lastSyncAt()))
                        .append(",\"lastSyncError\":")
                        .append(
                                s.lastSyncError() == null || s.lastSyncError().isEmpty()
                                        ? "null"
                                        : JsonText.quote(s.lastSyncError()))
                        .append(",\"cursor\":")
                        .append(s.cursor() == null ? "null" : JsonText.quote(s.cursor()))
                        .append(",\"clockOffsetMs\":")
                        .append(s.clockOffsetMs())
                        .append(",\"models\":")
                        .append(device.models().statusJson())
                        .append('}');
                out().println(b);
            } else {
                out().printf("device %s (%s) at %s%n", s.deviceId(), String.join(", ", s.scopes()), s.server());
                out().printf("pending changes: %d%n", s.pending());
                out().printf("refused changes: %d%n", s.refused().size());
                for (LocalStore.LoggedChange c : s.refused()) {
                    out().printf("  #%d %s: %s%n", c.seq(), c.code(), c.message());
                }
                out().printf(
                                "last sync: %s%s%n",
                                s.lastSyncAt() == null ? "never" : s.lastSyncAt(),
                                s.lastSyncError() == null || s.lastSyncError().isEmpty()
                                        ? ""
                                        : " (last error: " + s.lastSyncError() + ")");
                out().printf("cursor: %s%n", s.cursor() == null ? "start" : s.cursor());
                if (s.clockOffsetMs() != 0) {
                    out().printf(
                                    "clock: runs %.1f s ahead of the server's; changes are stamped from the server's time%n",
                                    -s.clockOffsetMs() / 1000.0);
                }
            }
            return 0;
        }
    }

    @Command(
            name = "run",
            description =
                    "Background: sync whenever the server is reachable (backoff with jitter), install assigned model "
                            + "versions, and serve the "
                            + "operations as JSON over HTTP on 127.0.0.1. Stops cleanly on SIGTERM.")
    static final class Run extends DeviceCommand {
        @Option(names = "--port", description = "local API port on 127.0.0.1 (default ${DEFAULT-VALUE}; 0 picks one)")
        int port = 7465;

        @Option(names = "--interval", description = "seconds between syncs when idle (default ${DEFAULT-VALUE})")
        long intervalSeconds = 60;

        @Option(
                names = "--health-cmd",
                description = "model health check: shell command that must exit 0 with a new version active")
        String healthCommand;

        @Option(names = "--health-tries", description = "failed checks before reverting (default ${DEFAULT-VALUE})")
        int healthTries = dev.outpost.device.model.HealthCheck.TRIES_DEFAULT;

        @Override
        int run(OutpostDevice device) {
            dev.outpost.device.run.SyncWorker worker =
                    new dev.outpost.device.run.SyncWorker(device, intervalSeconds * 1000);
            dev.outpost.device.run.ModelWorker models = new dev.outpost.device.run.ModelWorker(
                    device,
                    new dev.outpost.device.model.HealthCheck(healthCommand, healthTries),
                    intervalSeconds * 1000);
            worker.afterSync(models::nudge);
            dev.outpost.device.run.LocalApi api;
            try {
                api = new dev.outpost.device.run.LocalApi(device, worker, port);
            } catch (java.io.IOException e) {
                throw new DeviceException(
                        ExitCode.USAGE, "cannot listen on 127.0.0.1:" + port + ": " + e.getMessage(), e);
            }
            Thread syncing = new Thread(worker, "outpost-sync");
            Thread installing = new Thread(models, "outpost-model");
            java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
            Thread hook = new Thread(
                    () -> {
                        worker.stop();
                        models.stop();
                        api.stop();
                        try {
                            syncing.join(30_000);
                            installing.join(30_000);
                            stopped.await(30, java.util.concurrent.TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    },
                    "outpost-stop");
            Runtime.getRuntime().addShutdownHook(hook);
            api.start();
            syncing.start();
            installing.start();
            out().println("outpost run: " + device.deviceId() + " serving on 127.0.0.1:" + api.port());
            out().flush();
            try {
                syncing.join();
                installing.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            stopped.countDown();
            return 0;
        }
    }

    @Command(
            name = "model",
            description = "Model artifacts: slot state, apply the assigned version, revert to the kept one.",
            subcommands = {ModelStatus.class, ModelUpdate.class, ModelRollback.class})
    static final class Model implements Callable<Integer> {
        @ParentCommand
        OutpostCli parent;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(
                    spec.commandLine(), "say 'model status', 'model update' or 'model rollback'");
        }
    }

    @Command
    abstract static class ModelCommand implements Callable<Integer> {
        @ParentCommand
        Model model;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        @Override
        public Integer call() {
            try (OutpostDevice device = OutpostDevice.open(model.parent.home())) {
                return run(device);
            }
        }

        abstract int run(OutpostDevice device);

        static String only(dev.outpost.device.model.ModelUpdater models, String artifact) {
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
    }

    @Command(name = "status", description = "Slots, assigned version and any install in progress, as JSON.")
    static final class ModelStatus extends ModelCommand {
        @Option(names = "--json", description = "JSON output (the default; kept for symmetry)")
        boolean json;

        @Override
        int run(OutpostDevice device) {
            out().println(device.models().statusJson());
            return 0;
        }
    }

    @Command(
            name = "update",
            description = "Check in, then download and install the assigned version: differential, resumable, verified,"
                    + " activated atomically with the previous version kept; reverted when the health check fails.")
    static final class ModelUpdate extends ModelCommand {
        @Parameters(index = "0", arity = "0..1", description = "artifact (default: every one assigned)")
        String artifact;

        @Option(
                names = "--health-cmd",
                description = "shell command that must exit 0 with the new version active"
                        + " (OUTPOST_MODEL_PATH is set); default: the file verifies")
        String healthCommand;

        @Option(names = "--health-tries", description = "failed checks before reverting (default ${DEFAULT-VALUE})")
        int healthTries = dev.outpost.device.model.HealthCheck.TRIES_DEFAULT;

        @Option(names = "--offline", description = "use the assignment kept from the last sync, without checking in")
        boolean offline;

        @Override
        int run(OutpostDevice device) {
            var models = device.models();
            if (!offline) {
                models.checkIn();
            }
            var health = new dev.outpost.device.model.HealthCheck(healthCommand, healthTries);
            List<String> names = artifact != null ? List.of(artifact) : models.artifacts();
            if (names.isEmpty()) {
                throw new DeviceException(ExitCode.BAD_INPUT, "no model is assigned to this device yet");
            }
            DeviceException failed = null;
            for (String name : names) {
                ProgressBar bar = new ProgressBar(spec.commandLine().getErr());
                try {
                    long start = System.nanoTime();
                    var outcome = models.update(name, health, bar);
                    // The update itself: plan, download, assembly, verification, switch, health check (not the
                    // process start or the check-in).
                    out().printf("%s (%.2f s)%n", outcome.describe(), (System.nanoTime() - start) / 1e9);
                } catch (DeviceException e) {
                    if (names.size() == 1) {
                        throw e;
                    }
                    // One artifact's failure does not hold the others back; the first failure sets the exit code.
                    spec.commandLine().getErr().println("outpost: " + name + ": " + e.getMessage());
                    failed = failed == null ? e : failed;
                } finally {
                    bar.finish();
                }
            }
            return failed == null ? 0 : failed.exitCode().code;
        }
    }

    @Command(name = "rollback", description = "Switch back to the kept version (no download).")
    static final class ModelRollback extends ModelCommand {
        @Parameters(index = "0", arity = "0..1", description = "artifact (default: the only one installed)")
        String artifact;

        @Override
        int run(OutpostDevice device) {
            var models = device.models();
            out().println(models.rollback(only(models, artifact)).describe());
            return 0;
        }
    }

    @Command(name = "conflicts", description = "Open conflicts as a JSON array.")
    static final class Conflicts extends DeviceCommand {
        @Option(names = "--json", description = "JSON output (the default; kept for symmetry)")
        boolean json;

        @Override
        int run(OutpostDevice device) {
            out().println(device.conflictsJson());
            return 0;
        }
    }
}
