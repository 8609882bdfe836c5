package dev.outpost.device.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

/**
 * The workloads the one-file build records its three AOT caches from: real commands on a scratch home, in one JVM, so
 * the classes the commands need are loaded and linked ahead of time. Not part of the command line.
 *
 * <p>An AOT cache loads and links every class it holds when the JVM starts, whether the command uses it or not, at
 * about 8 KB of resident memory a class. So there are three: {@code local} holds only what the commands that never
 * touch the network need ({@code get}, {@code put}, {@code status}, ...); {@code model} holds a model install and
 * nothing of the rows, merges and sync; {@code network} holds both, for {@code sync} and {@code run}. The model and
 * network workloads install each of the build's TrainingServer's models twice (in full, then by deltas: chunk-local
 * ones for raw weights, tensor deltas for retrained networks in each precision), so their caches hold what an install
 * runs, down to the lambdas and string concatenations that would otherwise be generated at run time.
 */
public final class Training {
    private Training() {}

    /**
     * {@code Training HOME local|network|model}. HOME is a device home the build set up beforehand in another JVM:
     * {@code init} and {@code --help} run once in a device's life, and their classes (the YAML parser, picocli's help
     * renderer) would otherwise load at every start.
     */
    public static void main(String[] args) {
        Path home = Path.of(args[0]);
        String workload = args[1];
        String h = home.toString();
        String[][] local = {
            {"--home", h, "put", "farmer", "f1", "name=Training Farmer", "village=Njoro", "phone=+254700000000"},
            {
                "--home",
                h,
                "put",
                "crop_record",
                "c1",
                "crop=maize",
                "stage=3",
                "planted_on=2026-03-10",
                "yield_kg=1200.5"
            },
            {"--home", h, "add", "crop_record", "c1", "bags_harvested", "4"},
            {"--home", h, "tag", "crop_record", "c1", "pests", "+aphids", "-aphids"},
            {"--home", h, "get", "crop_record", "c1"},
            {"--home", h, "get", "farmer", "f1"},
            {"--home", h, "list", "farmer"},
            {"--home", h, "status"},
            {"--home", h, "status", "--json"},
            {"--home", h, "conflicts"},
            {"--home", h, "delete", "farmer", "f1"},
            {"--home", h, "get", "farmer", "nobody"}
        };
        if (!workload.equals("model")) {
            run(local);
        }
        if (workload.equals("network")) {
            run(new String[][] {{"--home", h, "sync"}}); // the training server has no sync endpoint: a refusal
        }
        if (!workload.equals("local")) {
            for (String artifact : new String[] {
                "training-model",
                "training-tensors-f32",
                "training-tensors-f16",
                "training-tensors-bf16",
                "training-tensors-i8"
            }) {
                String[] update = {"--home", h, "model", "update", artifact};
                for (String version : new String[] {"1 (in full)", "2 (by deltas)"}) {
                    StringWriter out = new StringWriter();
                    if (OutpostCli.run(new PrintWriter(out), new PrintWriter(out), update) != 0) {
                        // A cache recorded without the install path would still work, only bigger at run time: say so.
                        throw new IllegalStateException(
                                "training install of " + artifact + " version " + version + " failed: " + out);
                    }
                }
            }
            run(new String[][] {{"--home", h, "model", "status"}});
        }
    }

    private static void run(String[][] script) {
        for (String[] command : script) {
            StringWriter sink = new StringWriter();
            OutpostCli.run(new PrintWriter(sink), new PrintWriter(sink), command);
        }
    }
}
