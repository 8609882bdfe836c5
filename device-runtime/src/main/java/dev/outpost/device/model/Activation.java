package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.model.ModelUpdater.Progress;
import dev.outpost.device.model.install.InstallState;
import dev.outpost.device.model.install.ModelInstall;
import dev.outpost.device.model.reports.InstallReports;
import dev.outpost.device.model.trust.AssignmentTrust;
import dev.outpost.device.store.ModelState;
import dev.outpost.device.store.ModelState.ArtifactState;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.TrustedKeys;
import dev.outpost.model.faults.CrashPoints;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The last phases of an install (docs/artifacts.md): from a complete staging file, or a kept slot, to an active,
 * healthy version. {@link InstallState.Activating}: complete the slot, verify it whole, switch the {@code current}
 * link; {@link InstallState.Checking}: run the health check, and switch back to the previous version when it keeps
 * failing. Every outcome is recorded and reported in the transaction that ends the install.
 */
final class Activation {
    private final Transactions tx;
    private final ModelState state;
    private final InstallReports reports;

    Activation(Transactions tx, ModelState state, InstallReports reports) {
        this.tx = tx;
        this.state = state;
        this.reports = reports;
    }

    /**
     * From a complete staging file (or a kept slot) to an active, healthy version: complete the slot, verify it
     * whole, switch the link, check health, and switch back when the check fails. Idempotent, so an install killed
     * anywhere in here finishes (or reverts) on the next run.
     */
    ModelUpdater.Outcome finishActivation(
            ModelSlots slots, ModelInstall install, TrustedKeys key, HealthCheck health, Progress progress)
            throws IOException {
        return finishActivation(slots, install, key, health, progress, false);
    }

    /** {@code justVerified}: the staging file was verified whole a moment ago by this process. */
    ModelUpdater.Outcome finishActivation(
            ModelSlots slots,
            ModelInstall install,
            TrustedKeys key,
            HealthCheck health,
            Progress progress,
            boolean justVerified)
            throws IOException {
        String artifact = install.artifact();
        Manifest target = ModelSlots.read(slots.manifestOf(install.slot()), key);
        Assignment a =
                Assignment.decode(SignedEnvelope.decode(install.assignment()).payload());
        String installSlot = install.slot();
        String previous =
                slots.getActiveName().filter(n -> !n.equals(installSlot)).orElse(null);
        if (install.state() instanceof InstallState.Activating activating) {
            progress.update("verifying", 0, 1, install.bytesDownloaded(), install.bytesDownloaded());
            slots.complete(install.slot());
            CrashPoints.reached("activate");
            Path file = slots.dir().resolve(install.slot()).resolve(ModelSlots.MODEL_FILE);
            if (!justVerified && !ModelSlots.verifies(file, target)) {
                tx.run(() -> state.deleteInstall(artifact));
                slots.clear(install.slot());
                throw new OutpostException(
                        ErrorCode.CHUNK_CORRUPT, "the assembled file does not match the signed SHA-256; discarded");
            }
            slots.activate(install.slot());
            CrashPoints.reached("activate");
            ModelInstall checking = install.in(activating.activated());
            tx.run(() -> state.saveInstallProgress(checking));
            install = checking;
        }
        // Checking: the new version is live; it stays only if it proves healthy.
        progress.update("checking", 0, 1, install.bytesDownloaded(), install.bytesDownloaded());
        if (previous == null) {
            previous = slots.getKept(key).map(ModelSlots.Slot::name).orElse(null);
        }
        Path live = slots.dir().resolve("current").resolve(ModelSlots.MODEL_FILE);
        // Read where the slot keeps it now (complete renamed it; the file is the one verified above).
        Manifest installed = ModelSlots.read(slots.manifestOf(installSlot), key);
        while (install.state().healthTries() < health.tries()) {
            if (health.passes(artifact, target.version(), live, installed)) {
                ModelInstall done = install;
                tx.run(() -> {
                    ArtifactState known = state.get(artifact);
                    AssignmentTrust.Marks marks = AssignmentTrust.Marks.of(
                                    known.highestVersion(), known.highestIssuedAtMs())
                            .installed(a);
                    state.deleteInstall(artifact);
                    state.put(
                            artifact,
                            known.withHighest(marks.highestVersion(), marks.highestIssuedAtMs())
                                    .withLastOutcome("installed version " + target.version()));
                    reports.queue(
                            artifact,
                            done.fromVersion(),
                            target.version(),
                            target.version(),
                            "installed",
                            null,
                            done.bytesDownloaded());
                });
                reports.flush();
                return new ModelUpdater.Outcome(
                        artifact,
                        "installed",
                        done.fromVersion(),
                        target.version(),
                        done.bytesDownloaded(),
                        installed.storedSize(),
                        0,
                        0,
                        0,
                        null);
            }
            ModelInstall counted = install.in(((InstallState.Checking) install.state()).failedOnce());
            tx.run(() -> state.saveInstallProgress(counted));
            install = counted;
        }
        // Unhealthy: back to the previous version, which stays the newest this device runs.
        if (previous != null) {
            slots.activate(previous);
        }
        Long back = previous == null
                ? null
                : slots.getSlot(previous, key).map(s -> s.manifest().version()).orElse(null);
        ModelInstall failed = install;
        tx.run(() -> {
            state.deleteInstall(artifact);
            state.put(
                    artifact,
                    state.get(artifact)
                            .withFailedVersion(target.version())
                            .withLastOutcome("version " + target.version() + " failed its health check; reverted"));
            reports.queue(
                    artifact,
                    failed.fromVersion(),
                    target.version(),
                    back,
                    "reverted",
                    ErrorCode.HEALTH_CHECK_FAILED.key(),
                    failed.bytesDownloaded());
        });
        reports.flush();
        throw new DeviceException(
                ExitCode.REFUSED,
                artifact + " version " + target.version() + " failed its health check " + health.tries()
                        + " time(s); "
                        + (back == null ? "no previous version to return to" : "reverted to version " + back)
                        + " [" + ErrorCode.HEALTH_CHECK_FAILED.key() + "]");
    }
}
