package dev.outpost.device.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;

/** One parsed command: its typed arguments (defaults applied), the device home and the output streams. */
record Invocation(CommandSpec command, Path home, PrintWriter out, PrintWriter err) {
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
