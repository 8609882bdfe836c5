package dev.outpost.device.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

/**
 * The workloads the one-file build records its two AOT caches from: real commands on a scratch home, in one JVM, so
 * the classes the commands need are loaded and linked ahead of time. Not part of the command line.
 *
 * <p>An AOT cache loads and links every class it holds when the JVM starts, whether the command uses it or not. The
 * {@code local} cache therefore holds only what the commands that never touch the network need ({@code get}, {@code
 * put}, {@code status}, ...); the HTTP client, TLS and the model code are in the {@code network} cache alone, which
 * {@code sync}, {@code model} and {@code run} start with.
 */
public final class Training {
    private Training() {}

    /**
     * {@code Training HOME local|network}. HOME is a device home the build set up beforehand in another JVM: {@code
     * init} and {@code --help} run once in a device's life, and their classes (the YAML parser, picocli's help
     * renderer) would otherwise load at every start.
     */
    public static void main(String[] args) {
        Path home = Path.of(args[0]);
        boolean network = args[1].equals("network");
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
        String[][] online = {{"--home", h, "sync"}, {"--home", h, "model", "status"}};
        run(local);
        if (network) {
            run(online);
        }
    }

    private static void run(String[][] script) {
        for (String[] command : script) {
            StringWriter sink = new StringWriter();
            OutpostCli.run(new PrintWriter(sink), new PrintWriter(sink), command);
        }
    }
}
