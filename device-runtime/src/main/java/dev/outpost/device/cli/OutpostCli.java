package dev.outpost.device.cli;

import static dev.outpost.device.cli.CommandSpecs.*;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.model.ModelUpdater;
import dev.outpost.device.render.Json;
import dev.outpost.device.rows.Rows;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
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
                                "--root-key",
                                String.class,
                                "the operator's root key (base64 X.509, or the root.pub file `outpost keys root` wrote):"
                                        + " model signing keys are trusted only when it delegates them"))
                        .addOption(option(
                                "--model-key",
                                String.class,
                                "one model signing key (base64 X.509) to trust for good, instead of a root key;"
                                        + " without either, no model is installed"))
                        .addOption(option(
                                "--ca",
                                String.class,
                                "PEM file of the CA(s) the server's certificate must chain to, instead of the"
                                        + " platform's trust store"))
                        .addOption(option(
                                "--pin",
                                String[].class,
                                "sha256/BASE64 of a public key the server's chain must hold (repeatable)"))
                        .addOption(flag(
                                "--insecure",
                                "allow plain http to a server beyond loopback (a test network only: anyone on the"
                                        + " path reads the credential)"))
                        .addOption(option(
                                "--db-key-file",
                                String.class,
                                "encrypt the database with the key in this file (read at every start, never copied)"))
                        .addOption(option(
                                "--db-key-env", String.class, "encrypt the database with the key in this variable"))
                        .addOption(option(
                                "--db-key-command",
                                String.class,
                                "encrypt the database with the key this command prints (a platform keystore)")),
                Commands::init);
        add(
                root,
                command(
                                "db-key",
                                "Encrypt the database, move it to another key, or decrypt it (--none); the device"
                                        + " must not be running.")
                        .addOption(option("--file", String.class, "the key is in this file"))
                        .addOption(option("--env", String.class, "the key is in this environment variable"))
                        .addOption(option("--command", String.class, "the key is what this command prints"))
                        .addOption(flag("--none", "decrypt: the database is kept in the clear")),
                Commands::dbKey);
        add(
                root,
                command(
                                "doctor",
                                "Check the database page by page; --repair rebuilds a damaged one, keeping every"
                                        + " unsent change (the rest comes back with the next sync).")
                        .addOption(flag(
                                "--repair",
                                "rebuild a damaged database around its unsent changes and settings (the damaged file"
                                        + " is kept, renamed); stop 'outpost run' first")),
                Commands::doctor);
        add(
                root,
                command(
                        "rotate-token",
                        "Get a new credential from the service and keep it (the old one lives on ten minutes)."),
                onDevice(Commands::rotateToken));
        add(
                root,
                rowCommand("put", "Write fields of a row (VALUE is JSON if it parses, else a string).")
                        .addPositional(rest(2, "FIELD=VALUE")),
                onDevice(Commands::put));
        add(root, rowCommand("get", "One row as a JSON object."), onDevice(Commands::get));
        add(
                root,
                command(
                                "list",
                                "Rows of a table, one JSON object per line: every row by id, or those the options pick.")
                        .addPositional(positional(0, "<table>"))
                        .addOption(option(
                                "--where",
                                String[].class,
                                "FIELD=VALUE (repeatable; VALUE as for put): rows that match"))
                        .addOption(option("--order", String.class, "FIELD to order by (default: id)"))
                        .addOption(flag("--desc", "descending order"))
                        .addOption(option(
                                "--limit",
                                Integer.class,
                                "rows at most (default " + Rows.LIST_LIMIT_DEFAULT + ", at most " + Rows.LIST_LIMIT_MAX
                                        + ")"))
                        .addOption(option("--after", String.class, "ID: the page after this row (the last one shown)")),
                onDevice(Commands::list));
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
                onDevice(Commands::sync));
        add(
                root,
                command("status", "Pending and refused changes, last sync, cursor.")
                        .addOption(flag("--json", "one JSON object")),
                onDevice(Commands::status));
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
                command(
                                "query",
                                "Read-only SQL over the typed tables (one per schema table), one JSON object per row;"
                                        + " ? parameters follow the query.")
                        .addPositional(positional(0, "<sql>"))
                        .addPositional(optionalRest(1, "PARAM")),
                onDevice(Commands::query));
        add(
                root,
                command(
                                "watch",
                                "Follow the changes feed: one JSON object per changed row (local writes and syncs) as"
                                        + " it happens, until stopped.")
                        .addPositional(optionalFirst("<table>", "only this table's rows"))
                        .addOption(option(
                                "--after",
                                Long.class,
                                "SEQ: start after this entry (default: the newest, so only changes from now on;"
                                        + " 0: every entry kept)"))
                        .addOption(option("--count", Integer.class, "N: stop after N changes")),
                onDevice(Commands::watch));
        add(
                root,
                command("refused", "Changes the server refused, with its reasons; 'retry' or 'discard' each.")
                        .addOption(flag("--json", "a JSON array")),
                onDevice(Commands::refused));
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
                onDevice(Commands::run));

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
                onDevice(Commands::modelUpdate));
        add(
                model,
                command("rollback", "Switch back to the kept version (no download).")
                        .addPositional(artifact("artifact (default: the only one installed)")),
                onDevice((in, device) -> {
                    ModelUpdater models = device.models();
                    in.out()
                            .println(models.rollback(Commands.onlyArtifact(models, in.positional(0)))
                                    .describe());
                    return 0;
                }));

        CommandSpec keys =
                command("keys", "The operator's offline model keys: a root key, and signing keys the root delegates.");
        root.addSubcommand("keys", keys);
        add(
                keys,
                command(
                                "root",
                                "Make the root key (once, offline): root.key stays with the operator, root.pub goes"
                                        + " to devices.")
                        .addOption(required("--out", "directory for root.key (mode 0600) and root.pub")),
                KeyCommands::root);
        add(
                keys,
                command("online", "Make a signing key for the service and the delegation the root signs for it.")
                        .addOption(required("--root", "the root.key file"))
                        .addOption(required("--out", "directory for service.env (mode 0600): the service's settings"))
                        .addOption(
                                withDefault("--days", Integer.class, "90", "days the delegation is valid (default 90)"))
                        .addOption(option(
                                "--also",
                                String[].class,
                                "another key (base64 X.509) to delegate as well, such as the one being replaced")),
                KeyCommands::online);
        add(
                keys,
                command("delegate", "Sign a new delegation of keys the service has (to renew one before it expires).")
                        .addOption(required("--root", "the root.key file"))
                        .addOption(
                                valued("--key", String[].class, "a signing key to delegate, base64 X.509 (repeatable)")
                                        .required(true)
                                        .build())
                        .addOption(withDefault(
                                "--days", Integer.class, "90", "days the delegation is valid (default 90)")),
                KeyCommands::delegate);
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
                            : "say one of "
                                    + command.subcommands().keySet().stream()
                                            .map(sub -> "'" + command.name() + " " + sub + "'")
                                            .toList());
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
}
