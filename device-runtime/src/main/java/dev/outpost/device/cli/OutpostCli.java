package dev.outpost.device.cli;

import dev.outpost.device.DeviceException;
import dev.outpost.device.DeviceStatus;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.model.HealthCheck;
import dev.outpost.device.model.ModelUpdater;
import dev.outpost.device.render.Json;
import dev.outpost.device.rows.RefusedChange;
import dev.outpost.device.run.LocalApi;
import dev.outpost.device.run.ModelWorker;
import dev.outpost.device.run.SyncWorker;
import dev.outpost.device.sync.SyncRefused;
import dev.outpost.device.sync.SyncResult;
import dev.outpost.model.change.Op;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The {@code outpost} command line (DESIGN.md section 6). Exit codes: 0 ok, 1 usage, 2 bad input, 3 server
 * unreachable (nothing lost), 4 refused by the server, 5 local storage problem. Errors are one line on stderr.
 *
 * <p>The commands are declared through picocli's programmatic API, not its annotations: reading annotations makes
 * the JVM generate a proxy class per annotation type and method-handle classes for every reflective field write, which
 * cost a short command like {@code get} about a third of its wall time and 8 MB of memory (docs/BENCHMARKS.md,
 * startup). It also leaves native-image nothing to register for the command line.
 */
public final class OutpostCli {
    /** What a command does once its arguments are parsed. */
    @FunctionalInterface
    private interface Action {
        int run(Invocation in);
    }

    /** A command that works on an opened device home. */
    @FunctionalInterface
    private interface DeviceAction {
        int run(Invocation in, OutpostDevice device);
    }

    /** One parsed command: its typed arguments (defaults applied), the device home and the output streams. */
    private record Invocation(CommandSpec command, Path home, PrintWriter out, PrintWriter err) {
        <T> T positional(int index) {
            return command.positionalParameters().get(index).getValue();
        }

        <T> T option(String name) {
            return command.findOption(name).getValue();
        }

        boolean flag(String name) {
            return Boolean.TRUE.equals(option(name));
        }

        List<String> values(String[] given) {
            return given == null ? List.of() : List.of(given);
        }
    }

    private final CommandSpec root;
    /** Actions by qualified command name ("outpost get", "outpost model update"). */
    private final Map<String, Action> actions = new HashMap<>();

    private OutpostCli() {
        // -h and -V declared here rather than by mixinStandardHelpOptions, which reads them from an annotated class.
        root = command("outpost", "Offline-first field data: edit locally, sync when a link appears.")
                .version("outpost 0.1.0")
                .addOption(OptionSpec.builder("-h", "--help")
                        .usageHelp(true)
                        .description("Show this help message and exit.")
                        .build())
                .addOption(OptionSpec.builder("-V", "--version")
                        .versionHelp(true)
                        .description("Print version information and exit.")
                        .build());
        Map<String, String> exitCodes = new LinkedHashMap<>();
        exitCodes.put("0", "ok");
        exitCodes.put("1", "usage error");
        exitCodes.put("2", "bad input (nothing was written)");
        exitCodes.put("3", "server unreachable (nothing lost; sync again later)");
        exitCodes.put("4", "refused by the server (see the message; refused changes stay listed by 'outpost status')");
        exitCodes.put("5", "local storage problem");
        root.usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(exitCodes);
        root.addOption(option("--home", String.class, "device home (default: $OUTPOST_HOME, else ~/.outpost)"));

        add(
                root,
                command("init", "Set up this device: server, identity and credential.")
                        .addOption(required("--server", "sync service URL"))
                        .addOption(required("--device-id", "this device's id, as registered"))
                        .addOption(required("--token", "the device token from registration (stored with mode 0600)"))
                        .addOption(option("--schema", String.class, "schema file (default: the bundled farm schema)"))
                        .addOption(option(
                                "--scope", String[].class, "granted scope, when initialising offline (repeatable)"))
                        .addOption(option(
                                "--model-key",
                                String.class,
                                "the service's model signing key (base64 X.509) to pin; default: pinned from the"
                                        + " service on the first model update")),
                OutpostCli::init);
        add(
                root,
                rowCommand("put", "Write fields of a row (VALUE is JSON if it parses, else a string).")
                        .addPositional(rest(2, "FIELD=VALUE")),
                onDevice(OutpostCli::put));
        add(root, rowCommand("get", "One row as a JSON object."), onDevice(OutpostCli::get));
        add(
                root,
                command("list", "Every row of a table, one JSON object per line.")
                        .addPositional(positional(0, "<table>")),
                onDevice((in, device) -> {
                    String scope = device.schema().scopeColumn();
                    device.rows().list(in.positional(0)).forEach(r -> in.out().println(Json.row(r, scope)));
                    return 0;
                }));
        add(root, rowCommand("delete", "Delete a row."), onDevice((in, device) -> {
            device.rows().delete(in.positional(0), in.positional(1));
            return 0;
        }));
        add(
                root,
                fieldCommand("add", "Add N (may be negative) to a counter field.")
                        .addPositional(positional(3, "N", long.class)),
                onDevice((in, device) -> {
                    long delta = in.positional(3);
                    device.rows().add(in.positional(0), in.positional(1), in.positional(2), delta);
                    return 0;
                }));
        add(
                root,
                fieldCommand("tag", "Add (+element) or remove (-element) elements of a set field.")
                        .addPositional(rest(3, "+a|-b")),
                onDevice((in, device) -> {
                    String[] edits = in.positional(3);
                    device.rows().tag(in.positional(0), in.positional(1), in.positional(2), List.of(edits));
                    return 0;
                }));
        add(
                root,
                command("sync", "One sync round: push every pending change, pull every page.")
                        .addOption(flag("--json", "one JSON object instead of a sentence")),
                onDevice(OutpostCli::sync));
        add(
                root,
                command("status", "Pending and refused changes, last sync, cursor.")
                        .addOption(flag("--json", "one JSON object")),
                onDevice(OutpostCli::status));
        add(
                root,
                command("conflicts", "Open conflicts as a JSON array.")
                        .addOption(flag("--json", "JSON output (the default; kept for symmetry)")),
                onDevice((in, device) -> {
                    in.out().println(Json.conflicts(device.rows().conflicts()));
                    return 0;
                }));
        add(
                root,
                command("refused", "Changes the server refused, with its reasons; 'retry' or 'discard' each.")
                        .addOption(flag("--json", "a JSON array")),
                onDevice(OutpostCli::refused));
        add(
                root,
                command("retry", "Put a refused change back in line: it goes out with the next sync.")
                        .addPositional(positional(0, "<seq>", long.class)),
                onDevice((in, device) -> {
                    long seq = in.positional(0);
                    device.rows().retry(seq);
                    in.out().println("change #" + seq + " goes out with the next sync");
                    return 0;
                }));
        add(
                root,
                command(
                                "discard",
                                "Drop a refused change for good; its row goes back to what the server has plus this"
                                        + " device's other unsent changes.")
                        .addPositional(positional(0, "<seq>", long.class)),
                onDevice((in, device) -> {
                    long seq = in.positional(0);
                    device.rows().discard(seq);
                    in.out().println("change #" + seq + " discarded");
                    return 0;
                }));
        add(
                root,
                command(
                                "run",
                                "Background: sync whenever the server is reachable (backoff with jitter), install"
                                        + " assigned model versions, and serve the operations as JSON over HTTP on"
                                        + " 127.0.0.1. Stops cleanly on SIGTERM.")
                        .addOption(withDefault(
                                "--port",
                                int.class,
                                "7465",
                                "local API port on 127.0.0.1 (default ${DEFAULT-VALUE}; 0 picks one)"))
                        .addOption(withDefault(
                                "--interval",
                                long.class,
                                "60",
                                "seconds between syncs when idle (default ${DEFAULT-VALUE})"))
                        .addOption(option(
                                "--health-cmd",
                                String.class,
                                "model health check: shell command that must exit 0 with a new version active"))
                        .addOption(healthTries()),
                onDevice(OutpostCli::run));

        CommandSpec model =
                command("model", "Model artifacts: slot state, apply the assigned version, revert to the kept one.");
        root.addSubcommand("model", model);
        add(
                model,
                command("status", "Slots, assigned version and any install in progress, as JSON.")
                        .addOption(flag("--json", "JSON output (the default; kept for symmetry)")),
                onDevice((in, device) -> {
                    in.out().println(device.models().statusJson());
                    return 0;
                }));
        add(
                model,
                command(
                                "update",
                                "Check in, then download and install the assigned version: differential, resumable,"
                                        + " verified, activated atomically with the previous version kept; reverted"
                                        + " when the health check fails.")
                        .addPositional(artifact("artifact (default: every one assigned)"))
                        .addOption(option(
                                "--health-cmd",
                                String.class,
                                "shell command that must exit 0 with the new version active"
                                        + " (OUTPOST_MODEL_PATH is set); default: the file verifies"))
                        .addOption(healthTries())
                        .addOption(
                                flag("--offline", "use the assignment kept from the last sync, without checking in")),
                onDevice(OutpostCli::modelUpdate));
        add(
                model,
                command("rollback", "Switch back to the kept version (no download).")
                        .addPositional(artifact("artifact (default: the only one installed)")),
                onDevice((in, device) -> {
                    ModelUpdater models = device.models();
                    in.out()
                            .println(models.rollback(onlyArtifact(models, in.positional(0)))
                                    .describe());
                    return 0;
                }));
    }

    public static void main(String... args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs one command; returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        OutpostCli commands = new OutpostCli();
        CommandLine cli = new CommandLine(commands.root);
        // "tag ... -aphids" and "add ... -2" are values, not options.
        cli.setUnmatchedOptionsArePositionalParams(true);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionStrategy(parsed -> commands.execute(parsed, out, err));
        cli.setParameterExceptionHandler((e, given) -> {
            err.println("outpost: " + e.getMessage());
            err.println("run 'outpost --help' for usage");
            return ExitCode.USAGE.code;
        });
        return cli.execute(args);
    }

    private int execute(ParseResult parsed, PrintWriter out, PrintWriter err) {
        Integer help = CommandLine.executeHelpRequest(parsed);
        if (help != null) {
            return help;
        }
        ParseResult leaf = parsed;
        while (leaf.subcommand() != null) {
            leaf = leaf.subcommand();
        }
        CommandSpec command = leaf.commandSpec();
        Action action = actions.get(command.qualifiedName());
        if (action == null) {
            throw new ParameterException(
                    command.commandLine(),
                    command == root
                            ? "Missing required subcommand"
                            : "say 'model status', 'model update' or 'model rollback'");
        }
        String home = parsed.matchedOptionValue("--home", null);
        try {
            return action.run(new Invocation(command, home(home), out, err));
        } catch (DeviceException e) {
            err.println("outpost: " + e.getMessage());
            return e.exitCode().code;
        } catch (ParameterException e) {
            throw e;
        } catch (RuntimeException e) {
            err.println("outpost: unexpected failure: " + e);
            return ExitCode.STORAGE.code;
        }
    }

    private static Path home(String given) {
        if (given != null) {
            return Path.of(given);
        }
        String env = System.getenv("OUTPOST_HOME");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".outpost");
    }

    // ------------------------------------------------------------------ declaring commands

    private void add(CommandSpec parent, CommandSpec command, Action action) {
        parent.addSubcommand(command.name(), command);
        actions.put(command.qualifiedName(), action);
    }

    private static Action onDevice(DeviceAction action) {
        return in -> {
            try (OutpostDevice device = OutpostDevice.open(in.home())) {
                return action.run(in, device);
            }
        };
    }

    private static CommandSpec command(String name, String description) {
        CommandSpec spec = CommandSpec.create().name(name);
        spec.usageMessage().description(description);
        return spec;
    }

    private static OptionSpec.Builder valued(String name, Class<?> type, String description) {
        return OptionSpec.builder(name)
                .type(type)
                .paramLabel("<" + name.substring(2) + ">")
                .description(description);
    }

    private static OptionSpec option(String name, Class<?> type, String description) {
        return valued(name, type, description).build();
    }

    private static OptionSpec required(String name, String description) {
        return valued(name, String.class, description).required(true).build();
    }

    private static OptionSpec withDefault(String name, Class<?> type, String value, String description) {
        return valued(name, type, description).defaultValue(value).build();
    }

    private static OptionSpec flag(String name, String description) {
        return OptionSpec.builder(name)
                .type(boolean.class)
                .description(description)
                .build();
    }

    private static OptionSpec healthTries() {
        return withDefault(
                "--health-tries",
                int.class,
                String.valueOf(HealthCheck.TRIES_DEFAULT),
                "failed checks before reverting (default ${DEFAULT-VALUE})");
    }

    /** A command on one row: {@code <table> <id>} come first. */
    private static CommandSpec rowCommand(String name, String description) {
        return command(name, description)
                .addPositional(positional(0, "<table>"))
                .addPositional(positional(1, "<id>"));
    }

    /** A command on one field of a row: {@code <table> <id> <field>} come first. */
    private static CommandSpec fieldCommand(String name, String description) {
        return rowCommand(name, description).addPositional(positional(2, "<field>"));
    }

    private static PositionalParamSpec positional(int index, String label) {
        return positional(index, label, String.class);
    }

    private static PositionalParamSpec positional(int index, String label, Class<?> type) {
        return PositionalParamSpec.builder()
                .index(String.valueOf(index))
                .paramLabel(label)
                .type(type)
                .required(true)
                .build();
    }

    /** Positional {@code index} and everything after it, at least one. */
    private static PositionalParamSpec rest(int index, String label) {
        return PositionalParamSpec.builder()
                .index(index + "..*")
                .arity("1..*")
                .paramLabel(label)
                .type(String[].class)
                .required(true)
                .build();
    }

    private static PositionalParamSpec artifact(String description) {
        return PositionalParamSpec.builder()
                .index("0")
                .arity("0..1")
                .paramLabel("<artifact>")
                .type(String.class)
                .description(description)
                .build();
    }

    // ------------------------------------------------------------------ the commands

    private static int init(Invocation in) {
        String schema = in.option("--schema");
        in.out()
                .println(OutpostDevice.init(
                        in.home(),
                        in.option("--server"),
                        in.option("--device-id"),
                        in.option("--token"),
                        schema == null ? null : Path.of(schema),
                        in.values(in.option("--scope")),
                        in.option("--model-key")));
        return 0;
    }

    private static int put(Invocation in, OutpostDevice device) {
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

    private static int get(Invocation in, OutpostDevice device) {
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

    private static int sync(Invocation in, OutpostDevice device) {
        SyncResult r;
        int code = 0;
        try {
            r = device.syncClient().sync();
        } catch (SyncRefused refused) {
            r = refused.result();
            in.err().println("outpost: " + refused.getMessage());
            code = ExitCode.REFUSED.code;
        }
        if (in.flag("--json")) {
            in.out().println(Json.syncResult(r));
        } else {
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
        }
        return code;
    }

    private static int status(Invocation in, OutpostDevice device) {
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

    private static int refused(Invocation in, OutpostDevice device) {
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

    private static int run(Invocation in, OutpostDevice device) {
        int port = in.option("--port");
        long intervalMs = in.<Long>option("--interval") * 1000;
        int healthTries = in.option("--health-tries");
        SyncWorker worker = new SyncWorker(device::syncClient, intervalMs);
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

    private static int modelUpdate(Invocation in, OutpostDevice device) {
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

    private static String onlyArtifact(ModelUpdater models, String artifact) {
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
