package dev.outpost.device.cli;

import dev.outpost.device.model.HealthCheck;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** Builders for the command line's declarations (picocli's programmatic API; see {@link OutpostCli}). */
final class CommandSpecs {
    private CommandSpecs() {}

    static CommandSpec command(String name, String description) {
        CommandSpec spec = CommandSpec.create().name(name);
        spec.usageMessage().description(description);
        return spec;
    }

    static OptionSpec.Builder valued(String name, Class<?> type, String description) {
        return OptionSpec.builder(name)
                .type(type)
                .paramLabel("<" + name.substring(2) + ">")
                .description(description);
    }

    static OptionSpec option(String name, Class<?> type, String description) {
        return valued(name, type, description).build();
    }

    static OptionSpec required(String name, String description) {
        return valued(name, String.class, description).required(true).build();
    }

    static OptionSpec withDefault(String name, Class<?> type, String value, String description) {
        return valued(name, type, description).defaultValue(value).build();
    }

    static OptionSpec flag(String name, String description) {
        return OptionSpec.builder(name)
                .type(boolean.class)
                .description(description)
                .build();
    }

    static OptionSpec healthTries() {
        return withDefault(
                "--health-tries",
                int.class,
                String.valueOf(HealthCheck.TRIES_DEFAULT),
                "failed checks before reverting (default ${DEFAULT-VALUE})");
    }

    /** A command on one row: {@code <table> <id>} come first. */
    static CommandSpec rowCommand(String name, String description) {
        return command(name, description)
                .addPositional(positional(0, "<table>"))
                .addPositional(positional(1, "<id>"));
    }

    /** A command on one field of a row: {@code <table> <id> <field>} come first. */
    static CommandSpec fieldCommand(String name, String description) {
        return rowCommand(name, description).addPositional(positional(2, "<field>"));
    }

    static PositionalParamSpec positional(int index, String label) {
        return positional(index, label, String.class);
    }

    static PositionalParamSpec positional(int index, String label, Class<?> type) {
        return PositionalParamSpec.builder()
                .index(String.valueOf(index))
                .paramLabel(label)
                .type(type)
                .required(true)
                .build();
    }

    /** Positional {@code index} and everything after it, at least one. */
    static PositionalParamSpec rest(int index, String label) {
        return PositionalParamSpec.builder()
                .index(index + "..*")
                .arity("1..*")
                .paramLabel(label)
                .type(String[].class)
                .required(true)
                .build();
    }

    static PositionalParamSpec artifact(String description) {
        return optionalFirst("<artifact>", description);
    }

    /** The first positional, which may be left out. */
    static PositionalParamSpec optionalFirst(String label, String description) {
        return PositionalParamSpec.builder()
                .index("0")
                .arity("0..1")
                .paramLabel(label)
                .type(String.class)
                .description(description)
                .build();
    }

    /** Positional {@code index} and everything after it, possibly nothing. */
    static PositionalParamSpec optionalRest(int index, String label) {
        return PositionalParamSpec.builder()
                .index(index + "..*")
                .arity("0..*")
                .paramLabel(label)
                .type(String[].class)
                .build();
    }
}
