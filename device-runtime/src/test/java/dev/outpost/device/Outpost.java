package dev.outpost.device;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code target/outpost} file against one device home. */
final class Outpost {
    static final Path BINARY = Path.of("target/outpost");

    record Result(int exit, String out, String err) {
        Result ok() {
            if (exit != 0) {
                throw new AssertionError("outpost exited " + exit + ": " + err);
            }
            return this;
        }
    }

    final Path home;

    Outpost(Path home) {
        this.home = home;
    }

    Result run(String... args) throws IOException, InterruptedException {
        return run(List.of(), args);
    }

    /** The full command line for {@code args}, for tests that start and kill the process themselves. */
    List<String> command(String... args) {
        List<String> command = new ArrayList<>(List.of(BINARY.toAbsolutePath().toString(), "--home", home.toString()));
        command.addAll(List.of(args));
        return command;
    }

    /** {@code outpost run} started on a free port, its first line read; closing it stops the process. */
    record Running(Process process, int port) implements AutoCloseable {
        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("outpost run did not stop in 30 s");
            }
        }
    }

    /** Starts {@code outpost run} (syncs hourly, so a test's own commands are all that happens) and waits for it. */
    Running startRun() throws IOException {
        Process p = new ProcessBuilder(command("run", "--port", "0", "--interval", "3600"))
                .redirectErrorStream(true)
                .start();
        String banner = new java.io.BufferedReader(
                        new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        if (banner == null || !banner.contains("serving on 127.0.0.1:")) {
            p.destroyForcibly();
            throw new AssertionError("outpost run did not start: " + banner);
        }
        return new Running(
                p,
                Integer.parseInt(banner.substring(banner.lastIndexOf(':') + 1).trim()));
    }

    /** Runs with {@code prefix} in front (e.g. {@code unshare ...}). */
    Result run(List<String> prefix, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(prefix);
        command.addAll(command(args));
        // Output goes to files, so a command that never ends fails the test after the time-out instead of hanging
        // it on a read.
        Path out = Files.createTempFile("outpost-out", ".txt");
        Path err = Files.createTempFile("outpost-err", ".txt");
        try {
            Process p = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("outpost " + String.join(" ", args) + " did not finish in 120 s");
            }
            return new Result(
                    p.exitValue(),
                    Files.readString(out, StandardCharsets.UTF_8).trim(),
                    Files.readString(err, StandardCharsets.UTF_8).trim());
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
