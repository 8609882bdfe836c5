package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.model.ModelUpdater.Progress;
import dev.outpost.device.model.install.InstallState;
import dev.outpost.device.model.install.ModelInstall;
import dev.outpost.device.store.ModelState;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.TrustedKeys;
import dev.outpost.model.artifact.UpdatePlanner;
import dev.outpost.model.artifact.UpdatePlanner.Step;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.FutureTask;

/**
 * From a verified assignment to a complete, verified inactive slot (docs/artifacts.md): fetch and check the target
 * manifest, make room in the inactive slot and record the install, plan from the active version (reuse, delta, fetch),
 * assemble the slot ({@link SlotAssembly}) and hand it to {@link Activation}.
 */
final class Download {
    private final ArtifactLink client;
    private final Transactions tx;
    private final ModelState state;
    private final SlotAssembly assembly;
    private final Activation activation;

    Download(ArtifactLink client, Transactions tx, ModelState state, SlotAssembly assembly, Activation activation) {
        this.client = client;
        this.tx = tx;
        this.state = state;
        this.assembly = assembly;
        this.activation = activation;
    }

    ModelInstall plan(ModelSlots slots, Assignment a, byte[] assignment, ActiveCheck active, TrustedKeys key)
            throws IOException {
        Long activeVersion = active.version();
        // Into a file beside the slots, not memory (2.6 MB at 4 GB); it moves into the slot once the slot is cleared.
        Path fetched = Files.createDirectories(slots.dir()).resolve(ModelUpdater.FETCHED_MANIFEST);
        // The delta index is asked for beside the manifest, its round trip under the manifest's download and check.
        FutureTask<byte[]> index = activeVersion == null
                ? null
                : new FutureTask<>(() -> client.fetch(
                        "v1/artifacts/" + a.artifact() + "/deltas?from=" + activeVersion + "&to=" + a.version()
                                + "&format=2",
                        ModelUpdater.DOCUMENT_BYTES_MAX));
        if (index != null) {
            Thread fetching = new Thread(index, "outpost-delta-index");
            fetching.setDaemon(true);
            fetching.start();
        }
        try {
            client.fetchTo(
                    "v1/artifacts/" + a.artifact() + "/versions/" + a.version() + "/manifest",
                    ModelUpdater.DOCUMENT_BYTES_MAX,
                    fetched);
            Manifest m = ModelSlots.read(fetched, key);
            if (!m.digest().equals(a.manifestSha256())) {
                throw new OutpostException(
                        ErrorCode.ARTIFACT_INVALID, "the manifest served is not the one the assignment names");
            }
            if (!m.artifact().equals(a.artifact()) || m.version() != a.version()) {
                throw new OutpostException(
                        ErrorCode.ARTIFACT_INVALID, "the manifest is for another artifact or version");
            }
            byte[] deltaIndex = index == null ? null : Prefetch.result(index);
            if (deltaIndex != null) {
                DeltaIndex.decode(deltaIndex);
            }
            active.passed(); // before the inactive slot, which holds the kept version, is cleared
            return prepareSlot(slots, a, assignment, activeVersion, m, fetched, deltaIndex);
        } finally {
            if (index != null) {
                index.cancel(true); // refused before its answer was needed: not waited for
            }
            Files.deleteIfExists(fetched); // in the slot now, or refused: either way nothing of it stays here
        }
    }

    /** Clears the inactive slot for {@code m} if there is room, moves its manifest in and records the install. */
    private ModelInstall prepareSlot(
            ModelSlots slots,
            Assignment a,
            byte[] assignment,
            Long activeVersion,
            Manifest m,
            Path fetched,
            byte[] deltaIndex) {
        try {
            String slot = slots.inactiveName();
            long free = Files.getFileStore(Files.createDirectories(slots.dir())).getUsableSpace() + slots.sizeOf(slot);
            if (free < m.size() + ModelUpdater.SPACE_MARGIN_BYTES) {
                throw new OutpostException(
                        ErrorCode.INSUFFICIENT_SPACE,
                        String.format(
                                "version %d needs %.1f MB free for its slot, %.1f MB are",
                                m.version(), (m.size() + ModelUpdater.SPACE_MARGIN_BYTES) / 1e6, free / 1e6));
            }
            slots.clear(slot);
            slots.receive(slot, fetched);
            ModelInstall install = new ModelInstall(
                    a.artifact(),
                    a.version(),
                    activeVersion,
                    assignment,
                    ModelUpdater.NO_DOCUMENT, // the manifest is the slot's pending one
                    deltaIndex,
                    slot,
                    InstallState.Downloading.START,
                    client.bytesDownloaded());
            tx.run(() -> state.saveInstall(install));
            return install;
        } catch (IOException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot prepare the model slot: " + e.getMessage(), e);
        }
    }

    ModelUpdater.Outcome run(
            ModelSlots slots, ModelInstall install, TrustedKeys key, HealthCheck health, Progress progress)
            throws IOException {
        String artifact = install.artifact();
        Manifest target = ModelSlots.read(slots.manifestOf(install.slot()), key);
        DeltaIndex deltas = install.deltaIndex() == null ? null : DeltaIndex.decode(install.deltaIndex());
        // From here on the record is progress only; activation reads the signed documents back from the store.
        install = install.withoutDocuments();
        Planned planned = planFromActive(slots, key, install.fromVersion(), target, deltas);
        if (planned == null) {
            // The active version changed under the install (a local rollback): plan again from scratch.
            tx.run(() -> state.deleteInstall(artifact));
            throw new DeviceException(
                    ExitCode.UNREACHABLE, "the active version changed during the install; run the update again");
        }
        if (target.chunkCount() >= OldGeneration.PLAN_CHUNKS) {
            OldGeneration.collect(); // the planner's indexes and the held manifest are garbage now
        }
        UpdatePlanner.Plan plan = planned.plan();
        List<Step> steps = plan.steps(); // a view: each step is made as it is reached
        long baseBytes = client.bytesDownloaded() - install.bytesDownloaded();
        Path staging = slots.staging(install.slot());
        boolean created = !Files.exists(staging);
        int done;
        try (FileChannel out = FileChannel.open(
                        staging, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel in = planned.heldFile() == null
                        ? null
                        : FileChannel.open(planned.heldFile(), StandardOpenOption.READ)) {
            if (created) {
                // The new file's name is made durable before any progress that counts on its bytes is committed: a
                // synced file whose directory entry is lost with the power is no file at all (PowerLossIT).
                ModelSlots.syncDirectory(staging.getParent());
            }
            done = SlotAssembly.resumePoint(out, target, install.state().stepsDone());
            assembly.downloadSteps(install, target, steps, plan, planned.held(), baseBytes, done, in, out, progress);
        } finally {
            assembly.release();
        }
        if (done > 0) {
            // Resumed: the chunks before the resume point were written by an earlier run (perhaps of an earlier
            // release, which copied held chunks unchecked); the file is verified whole, as read back from the disk.
            // A download run from the start checked every chunk against its signed hash before writing it.
            progress.update("verifying", 0, 1, client.bytesDownloaded() - baseBytes, plan.downloadBytes());
            OldGeneration.collect();
            assembly.verifyOrRepair(staging, target, progress);
        }
        ModelInstall downloaded =
                install.in(downloading(install).downloaded(steps.size()), client.bytesDownloaded() - baseBytes);
        tx.run(() -> state.saveInstallProgress(downloaded));
        ModelInstall activating = tx.inTransaction(() -> state.getInstall(artifact))
                .orElseThrow(() -> new IllegalStateException("the install record of " + artifact + " is gone"));
        long fullBytes = target.storedSize(); // read now: activation moves the manifest file it reads from
        ModelUpdater.Outcome o = activation.finishActivation(slots, activating, key, health, progress, true);
        return new ModelUpdater.Outcome(
                o.artifact(),
                o.result(),
                o.fromVersion(),
                o.toVersion(),
                activating.bytesDownloaded(),
                fullBytes,
                plan.count(Step.Reuse.class) + plan.count(Step.Copy.class),
                plan.count(Step.Delta.class),
                plan.count(Step.Fetch.class),
                o.errorCode());
    }

    /**
     * Whether the install's pending manifest (in its slot) is the one an assignment names; false when it is missing
     * or unreadable, so that the install is planned again.
     */
    static boolean pendingManifestIs(ModelSlots slots, ModelInstall install, Sha256 named) {
        try {
            Path file = slots.manifestOf(install.slot());
            return Files.exists(file)
                    && SignedEnvelope.stored(FileSource.open(file))
                            .payloadDigest()
                            .equals(named);
        } catch (IOException | OutpostException e) {
            return false;
        }
    }

    /** The install's state, which is {@link InstallState.Downloading} for as long as the download loop runs. */
    private static InstallState.Downloading downloading(ModelInstall install) {
        return (InstallState.Downloading) install.state();
    }

    /** A plan and what the download needs of the held version: its file and its manifest (read from its file). */
    private record Planned(UpdatePlanner.Plan plan, Path heldFile, Manifest held) {}

    /** Plans against the active version, or {@code null} if it is no longer {@code fromVersion}. */
    private static Planned planFromActive(
            ModelSlots slots, TrustedKeys key, Long fromVersion, Manifest target, DeltaIndex deltas)
            throws IOException {
        Optional<ModelSlots.Slot> active = slots.getActive(key);
        Manifest held = active.map(ModelSlots.Slot::manifest).orElse(null);
        if (!java.util.Objects.equals(held == null ? null : held.version(), fromVersion)) {
            return null;
        }
        return new Planned(
                UpdatePlanner.plan(held, target, deltas),
                active.map(ModelSlots.Slot::file).orElse(null),
                held);
    }

    // ------------------------------------------------------------------ rollback and status
}
