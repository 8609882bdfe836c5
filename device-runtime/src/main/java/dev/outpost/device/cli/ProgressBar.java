package dev.outpost.device.cli;

import dev.outpost.device.model.ModelUpdater;
import java.io.PrintWriter;

/**
 * A one-line progress bar on stderr for {@code outpost model update}: redrawn in place on a terminal, at most every
 * 200 ms; off a terminal (scripts, logs) one line per phase, so logs stay readable.
 */
final class ProgressBar implements ModelUpdater.Progress {
    private static final int WIDTH = 30;
    private final PrintWriter err;
    private final boolean terminal = System.console() != null;
    private long lastDrawMs;
    private String lastPhase = "";
    private boolean drawn;

    ProgressBar(PrintWriter err) {
        this.err = err;
    }

    @Override
    public void update(String phase, long stepsDone, long steps, long bytesDownloaded, long bytesPlanned) {
        long now = System.currentTimeMillis();
        boolean newPhase = !phase.equals(lastPhase);
        lastPhase = phase;
        if (!terminal) {
            if (newPhase) {
                err.println("outpost: " + phase + "...");
                err.flush();
            }
            return;
        }
        if (!newPhase && now - lastDrawMs < 200 && stepsDone != steps) {
            return;
        }
        lastDrawMs = now;
        int filled = steps == 0 ? WIDTH : (int) (WIDTH * stepsDone / steps);
        err.printf(
                "\r%-11s [%s%s] %3d%%  %.1f/%.1f MB downloaded ",
                phase,
                "#".repeat(filled),
                ".".repeat(WIDTH - filled),
                steps == 0 ? 100 : 100 * stepsDone / steps,
                bytesDownloaded / 1e6,
                Math.max(bytesPlanned, bytesDownloaded) / 1e6);
        err.flush();
        drawn = true;
    }

    void finish() {
        if (drawn) {
            err.println();
            err.flush();
        }
    }
}
