package dev.outpost.device.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

/**
 * The workload the one-file build records its AOT cache from: real commands on a scratch home, in one JVM, so the
 * classes every command needs are loaded and linked ahead of time. Not part of the command line.
 */
public final class Training {
    private Training() {}

    public static void main(String[] args) {
        Path home = Path.of(args[0]);
        String h = home.toString();
        String[][] script = {
            {
                "--home",
                h,
                "init",
                "--server",
                "http://127.0.0.1:9",
                "--device-id",
                "trainer",
                "--token",
                "opd_training",
                "--scope",
                "nakuru"
            },
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
            {"--home", h, "get", "farmer", "nobody"},
            {"--home", h, "sync"},
            {"--help"}
        };
        for (String[] command : script) {
            StringWriter sink = new StringWriter();
            OutpostCli.run(new PrintWriter(sink), new PrintWriter(sink), command);
        }
    }
}
