package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.JsonFields;
import dev.outpost.device.model.install.InstallState;
import dev.outpost.device.model.install.ModelInstall;
import dev.outpost.device.model.reports.InstallReports;
import dev.outpost.device.model.trust.AssignmentTrust;
import dev.outpost.device.store.ModelState;
import dev.outpost.device.store.ModelState.ArtifactState;
import dev.outpost.device.store.ReportStore;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.UpdatePlanner;
import dev.outpost.model.artifact.UpdatePlanner.Step;
import dev.outpost.model.wire.JsonText;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.PublicKey;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * Installs model versions the service assigns, one artifact at a time, as the state machine in docs/artifacts.md:
 * verify the signed assignment and manifest, plan from the active version, download into the inactive slot with
 * progress persisted per chunk, verify the whole file, switch the {@code current} link, run the health check, and
 * switch back by itself when the check fails. Every outcome is reported to the service (queued while offline).
 */
public final class ModelUpdater {
    /** Space kept free beyond the new version's size. */
    static final long SPACE_MARGIN_BYTES = 16L << 20;
    /** Steps between progress commits at most; downloaded chunks are synced one by one regardless. */
    static final int LOCAL_STEPS_PER_COMMIT = 256;
    /** Time between progress commits at most. */
    static final long PROGRESS_COMMIT_NS = 250_000_000L;
    /** How often a download collects the old generation (see {@link OldGeneration}). */
    static final long OLD_GENERATION_COLLECT_NS = 2_000_000_000L;

    private static final int FRAME_BYTES_MAX = Prefetch.FRAME_BYTES_MAX;
    private static final int DOCUMENT_BYTES_MAX = SignedEnvelope.PAYLOAD_BYTES_MAX + 4096;
    /** Where a fetched manifest waits beside the slots until it is verified and the slot is cleared. */
    private static final String FETCHED_MANIFEST = "manifest.fetched";
    /** An install record's manifest now: the slot holds it. */
    private static final byte[] NO_DOCUMENT = new byte[0];
    /** The reference buffer grows by this much (64 KiB) at a time. */
    private static final int REFERENCE_GROWTH = 64 * 1024;

    private final Transactions tx;
    private final ModelState state;
    private final InstallReports reports;
    private final Settings settings;
    private final Path modelsRoot;
    private final ArtifactClient client;
    private final LongSupplier clockMs;
    /** Where a delta's reference chunks are read, for the length of one install's download (up to 1 MiB). */
    private byte[] referenceBuffer;

    /** Where an update got to, for a progress bar. */
    @FunctionalInterface
    public interface Progress {
        void update(String phase, long stepsDone, long steps, long bytesDownloaded, long bytesPlanned);
    }

    /** What {@link #update} did. */
    public record Outcome(
            String artifact,
            String result,
            Long fromVersion,
            long toVersion,
            long bytesDownloaded,
            long bytesFull,
            long reused,
            long deltas,
            long fetched,
            String errorCode) {
        public String describe() {
            return switch (result) {
                case "up-to-date" -> artifact + " is at version " + toVersion + " already";
                case "installed" ->
                    String.format(
                            "installed %s version %d (from %s): downloaded %.1f MB (%d bytes) of %.1f MB for a full"
                                    + " download;"
                                    + " %d chunks reused, %d by delta, %d fetched",
                            artifact,
                            toVersion,
                            fromVersion == null ? "nothing" : "version " + fromVersion,
                            bytesDownloaded / 1e6,
                            bytesDownloaded,
                            bytesFull / 1e6,
                            reused,
                            deltas,
                            fetched);
                case "switched" ->
                    artifact + " switched to its kept version " + toVersion + " without downloading anything";
                default ->
                    artifact + " version " + toVersion + " " + result
                            + (errorCode == null ? "" : " [" + errorCode + "]");
            };
        }
    }

    public ModelUpdater(
            Transactions tx,
            ModelState state,
            ReportStore reports,
            Settings settings,
            Path modelsRoot,
            ArtifactClient client,
            LongSupplier clockMs) {
        this.tx = tx;
        this.state = state;
        this.reports = new InstallReports(tx, reports, client);
        this.settings = settings;
        this.modelsRoot = modelsRoot;
        this.client = client;
        this.clockMs = clockMs;
    }

    // ------------------------------------------------------------------ keys and assignments

    /** The pinned service key; pinned from the service on first use when {@code init} was not given one. */
    public PublicKey signingKey() {
        Optional<String> pinned = pinnedKey();
        if (pinned.isPresent()) {
            return SigningKeys.decodePublic(pinned.get());
        }
        String json = client.getJson("v1/artifacts/signing-key");
        String key = JsonFields.string(json, "publicKey")
                .orElseThrow(() -> new DeviceException(ExitCode.UNREACHABLE, "the service sent no signing key"));
        PublicKey parsed = SigningKeys.decodePublic(key);
        tx.run(() -> settings.put(Setting.MODEL_SIGNING_KEY, key));
        return parsed;
    }

    /** Keeps the assignments from a sync answer or a check-in, newest per artifact. */
    public void rememberAssignments(List<String> base64) {
        for (String a : base64) {
            try {
                SignedEnvelope env = SignedEnvelope.decode(Base64.getDecoder().decode(a));
                Assignment parsed = Assignment.decode(env.payload());
                tx.run(() -> state.put(
                        parsed.artifact(), state.get(parsed.artifact()).withAssignment(a)));
            } catch (OutpostException | IllegalArgumentException e) {
                // Unreadable assignments are not kept; verification happens when one is used.
            }
        }
    }

    /** Asks the service for the current assignments (the light check-in) and keeps them. */
    public List<String> checkIn() {
        List<String> got = JsonFields.strings(client.getJson("v1/device/assignments"), "assignments");
        rememberAssignments(got);
        return got;
    }

    /** Artifacts with a kept assignment or an install on disk. */
    public List<String> artifacts() {
        java.util.SortedSet<String> names = new java.util.TreeSet<>();
        tx.run(() -> {
            for (String name : state.findArtifacts()) {
                if (state.get(name).assignment() != null) {
                    names.add(name);
                }
            }
        });
        if (Files.isDirectory(modelsRoot)) {
            try (var s = Files.list(modelsRoot)) {
                s.forEach(p -> names.add(p.getFileName().toString()));
            } catch (IOException e) {
                throw storage("cannot list " + modelsRoot, e);
            }
        }
        return List.copyOf(names);
    }

    // ------------------------------------------------------------------ update

    /**
     * Brings {@code artifact} to its assigned version. Resumes an interrupted install, finishes an interrupted
     * activation, and never lowers the version without a signed rollback assignment issued after the one that
     * raised it.
     */
    public Outcome update(String artifact, HealthCheck health, Progress progress) {
        try {
            PublicKey key = signingKey();
            ModelSlots slots = new ModelSlots(modelsRoot, artifact);
            Optional<ModelInstall> pending = tx.inTransaction(() -> state.getInstall(artifact));
            if (pending.isPresent() && pending.get().manifest().length > 0) {
                // Recorded by a runtime that kept the signed manifest in the record: it goes to the slot, as now.
                slots.receive(pending.get().slot(), pending.get().manifest());
            }
            if (pending.isPresent() && !(pending.get().state() instanceof InstallState.Downloading)) {
                return finishActivation(slots, pending.get(), key, health, progress);
            }
            String encoded = Optional.ofNullable(artifactState(artifact).assignment())
                    .orElseThrow(() -> new DeviceException(
                            ExitCode.BAD_INPUT, "no version of '" + artifact + "' is assigned to this device"));
            byte[] envelope = Base64.getDecoder().decode(encoded);
            Assignment a = AssignmentTrust.verified(envelope, key, artifact);
            // The version only: the plan reads the active slot's manifest again from its file.
            Long activeVersion =
                    slots.getActive(key).map(s -> s.manifest().version()).orElse(null);
            if (activeVersion != null && activeVersion == a.version()) {
                return new Outcome(artifact, "up-to-date", a.version(), a.version(), 0, 0, 0, 0, 0, null);
            }
            ArtifactState known = artifactState(artifact);
            AssignmentTrust.checkInstallable(
                    a,
                    clockMs.getAsLong(),
                    AssignmentTrust.Marks.of(known.highestVersion(), known.highestIssuedAtMs()));
            Optional<ModelSlots.Slot> kept = slots.getKept(key);
            if (kept.isPresent()
                    && kept.get().manifest().version() == a.version()
                    && kept.get().manifest().digest().equals(a.manifestSha256())) {
                ModelInstall switchBack = new ModelInstall(
                        artifact,
                        a.version(),
                        activeVersion,
                        envelope,
                        NO_DOCUMENT, // the kept slot's manifest is in the slot
                        null,
                        kept.get().name(),
                        new InstallState.Activating(0),
                        0);
                tx.run(() -> state.saveInstall(switchBack));
                Outcome o = finishActivation(slots, switchBack, key, health, progress);
                return o.result().equals("installed")
                        ? new Outcome(artifact, "switched", o.fromVersion(), o.toVersion(), 0, 0, 0, 0, 0, null)
                        : o;
            }
            ModelInstall install = pending.isPresent()
                            && pending.get().targetVersion() == a.version()
                            && pendingManifestIs(slots, pending.get(), a.manifestSha256())
                    ? pending.get()
                    : plan(slots, a, envelope, activeVersion, key);
            return download(slots, install, key, health, progress);
        } catch (OutpostException e) {
            throw fail(artifact, e.code(), e.getMessage(), e);
        } catch (IOException | UncheckedIOException thrown) {
            // Manifests are read from their files as they are used: a failed read is unchecked there.
            IOException e = thrown instanceof UncheckedIOException u ? u.getCause() : (IOException) thrown;
            boolean full = String.valueOf(e.getMessage()).contains("No space left");
            DeviceException f = fail(
                    artifact,
                    full ? ErrorCode.INSUFFICIENT_SPACE : ErrorCode.INTERNAL,
                    "model storage failed: " + e.getMessage(),
                    e);
            throw new DeviceException(ExitCode.STORAGE, f.getMessage(), e);
        }
    }

    private ModelInstall plan(ModelSlots slots, Assignment a, byte[] assignment, Long activeVersion, PublicKey key)
            throws IOException {
        // Into a file beside the slots, not memory (2.6 MB at 4 GB); it moves into the slot once the slot is cleared.
        Path fetched = Files.createDirectories(slots.dir()).resolve(FETCHED_MANIFEST);
        try {
            client.fetchTo(
                    "v1/artifacts/" + a.artifact() + "/versions/" + a.version() + "/manifest",
                    DOCUMENT_BYTES_MAX,
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
            byte[] deltaIndex = null;
            if (activeVersion != null) {
                deltaIndex = client.fetch(
                        "v1/artifacts/" + a.artifact() + "/deltas?from=" + activeVersion + "&to=" + a.version(),
                        DOCUMENT_BYTES_MAX);
                DeltaIndex.decode(deltaIndex);
            }
            return prepareSlot(slots, a, assignment, activeVersion, m, fetched, deltaIndex);
        } finally {
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
            if (free < m.size() + SPACE_MARGIN_BYTES) {
                throw new OutpostException(
                        ErrorCode.INSUFFICIENT_SPACE,
                        String.format(
                                "version %d needs %.1f MB free for its slot, %.1f MB are",
                                m.version(), (m.size() + SPACE_MARGIN_BYTES) / 1e6, free / 1e6));
            }
            slots.clear(slot);
            slots.receive(slot, fetched);
            ModelInstall install = new ModelInstall(
                    a.artifact(),
                    a.version(),
                    activeVersion,
                    assignment,
                    NO_DOCUMENT, // the manifest is the slot's pending one
                    deltaIndex,
                    slot,
                    InstallState.Downloading.START,
                    client.bytesDownloaded());
            tx.run(() -> state.saveInstall(install));
            return install;
        } catch (IOException e) {
            throw storage("cannot prepare the model slot: " + e.getMessage(), e);
        }
    }

    private Outcome download(
            ModelSlots slots, ModelInstall install, PublicKey key, HealthCheck health, Progress progress)
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
        OldGeneration.collect(); // the planner's indexes and the held manifest are garbage now
        UpdatePlanner.Plan plan = planned.plan();
        List<Step> steps = plan.steps(); // a view: each step is made as it is reached
        long baseBytes = client.bytesDownloaded() - install.bytesDownloaded();
        Path staging = slots.staging(install.slot());
        try (FileChannel out = FileChannel.open(
                        staging, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel in = planned.heldFile() == null
                        ? null
                        : FileChannel.open(planned.heldFile(), StandardOpenOption.READ)) {
            int done = resumePoint(out, target, install.state().stepsDone());
            downloadSteps(install, target, steps, plan, planned.held(), baseBytes, done, in, out, progress);
        } finally {
            referenceBuffer = null;
        }
        progress.update("verifying", 0, 1, client.bytesDownloaded() - baseBytes, plan.downloadBytes());
        OldGeneration.collect();
        verifyOrRepair(staging, target, progress);
        ModelInstall downloaded =
                install.in(downloading(install).downloaded(steps.size()), client.bytesDownloaded() - baseBytes);
        tx.run(() -> state.saveInstallProgress(downloaded));
        ModelInstall activating = tx.inTransaction(() -> state.getInstall(artifact))
                .orElseThrow(() -> new IllegalStateException("the install record of " + artifact + " is gone"));
        long fullBytes = target.storedSize(); // read now: activation moves the manifest file it reads from
        Outcome o = finishActivation(slots, activating, key, health, progress, true);
        return new Outcome(
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
    private static boolean pendingManifestIs(ModelSlots slots, ModelInstall install, Sha256 named) {
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
            ModelSlots slots, PublicKey key, Long fromVersion, Manifest target, DeltaIndex deltas) throws IOException {
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

    private void downloadSteps(
            ModelInstall install,
            Manifest target,
            List<Step> steps,
            UpdatePlanner.Plan plan,
            Manifest held,
            long baseBytes,
            int done,
            FileChannel in,
            FileChannel out,
            Progress progress)
            throws IOException {
        try (Prefetch prefetch = new Prefetch(client, target, steps, done)) {
            int sinceCommit = 0;
            long lastCommitNs = System.nanoTime();
            long at = target.offset(done); // where chunk i starts, carried along
            for (int i = done; i < steps.size(); at += target.rawLength(i), i++) {
                Step step = steps.get(i);
                ChunkRef c = target.chunk(i);
                if (step instanceof Step.Reuse r) {
                    // A held chunk is copied by the kernel (copy_file_range), not through the heap: it was verified
                    // when its version was installed, and the whole assembled file is verified before the switch.
                    copyLocal(in, held.offset(r.held()), c.rawLength(), out, at);
                } else {
                    write(out, at, produce(step, c, target, held, in, out, prefetch.frame(i)));
                }
                sinceCommit++;
                if (step instanceof Step.Fetch || step instanceof Step.Delta) {
                    // Downloaded bytes are made durable at once; the step count follows in batches, and a resumed
                    // install finds the chunks written after the last count by their hashes (resumePoint).
                    out.force(false);
                }
                if (sinceCommit >= LOCAL_STEPS_PER_COMMIT
                        || System.nanoTime() - lastCommitNs >= PROGRESS_COMMIT_NS
                        || i == steps.size() - 1) {
                    out.force(false);
                    ModelInstall now = install.in(downloading(install).at(i + 1), client.bytesDownloaded() - baseBytes);
                    tx.run(() -> state.saveInstallProgress(now));
                    sinceCommit = 0;
                    lastCommitNs = System.nanoTime();
                    CrashPoints.reached("download");
                    OldGeneration.collectEvery(OLD_GENERATION_COLLECT_NS);
                }
                progress.update(
                        "downloading", i + 1, steps.size(), client.bytesDownloaded() - baseBytes, plan.downloadBytes());
            }
            out.force(true);
        }
    }

    private static void copyLocal(FileChannel from, long position, int length, FileChannel to, long target)
            throws IOException {
        to.position(target);
        long done = 0;
        while (done < length) {
            long n = from.transferTo(position + done, length - done, to);
            if (n <= 0) {
                throw new IOException("the held version's file ends early");
            }
            done += n;
        }
    }

    /**
     * Checks the assembled file whole; if it does not match (a held chunk rotted on disk since it was installed),
     * finds the chunks that do not verify and fetches them, then checks again. Either the file verifies, or the
     * install stops with {@code chunk-corrupt} and nothing is switched.
     */
    private void verifyOrRepair(Path staging, Manifest target, Progress progress) throws IOException {
        if (ModelSlots.verifies(staging, target)) {
            return;
        }
        try (FileChannel ch = FileChannel.open(staging, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            int repaired = 0;
            long at = 0;
            for (int i = 0; i < target.chunkCount(); at += target.rawLength(i), i++) {
                ChunkRef c = target.chunk(i);
                if (!Sha256.digest(read(ch, at, c.rawLength())).equals(c.hash())) {
                    write(ch, at, fetchVerified(c));
                    repaired++;
                    progress.update("repairing", repaired, repaired, client.bytesDownloaded(), 0);
                }
            }
            ch.force(true);
        }
        if (!ModelSlots.verifies(staging, target)) {
            throw new OutpostException(
                    ErrorCode.CHUNK_CORRUPT, "the assembled file does not match the signed SHA-256 after repair");
        }
    }

    /**
     * Where a resumed download carries on: after the committed step count, and after every following chunk already
     * in the staging file whole (written and synced before the interruption, committed or not).
     */
    private static int resumePoint(FileChannel out, Manifest target, int committed) throws IOException {
        int done = committed;
        long size = out.size();
        for (long at = target.offset(done);
                done < target.chunkCount() && at + target.rawLength(done) <= size;
                at += target.rawLength(done), done++) {
            ChunkRef c = target.chunk(done);
            if (!Sha256.digest(read(out, at, c.rawLength())).equals(c.hash())) {
                break;
            }
        }
        return done;
    }

    /** One downloaded or locally derived target chunk's bytes, verified against the signed manifest. */
    private byte[] produce(
            Step step, ChunkRef c, Manifest target, Manifest held, FileChannel in, FileChannel out, byte[] frame)
            throws IOException {
        byte[] raw;
        try {
            // if/else rather than a pattern switch: each pattern switch has a class generated at run time (the
            // class-file library, megabytes of compiler arena), and a device pays for that on every install.
            if (step instanceof Step.Copy cp) {
                raw = read(out, target.offset(cp.earlier()), c.rawLength());
            } else if (step instanceof Step.Delta d) {
                int[] refs = d.delta().references();
                int refBytes = 0;
                for (int k : refs) {
                    refBytes += held.rawLength(k);
                }
                // One buffer for every delta of the install, read straight into place (a 1 GB update applies some 660
                // deltas), as large as the largest references so far: they may reach 1 MiB, most are 2-3 chunks.
                if (referenceBuffer == null || referenceBuffer.length < refBytes) {
                    referenceBuffer = new byte
                            [Math.min(
                                    UpdatePlanner.REFERENCE_BYTES_MAX,
                                    (refBytes + REFERENCE_GROWTH - 1) & -REFERENCE_GROWTH)];
                }
                int at = 0;
                for (int k : refs) {
                    int length = held.rawLength(k);
                    readFully(in, held.offset(k), ByteBuffer.wrap(referenceBuffer, at, length));
                    at += length;
                }
                raw = ChunkCodec.applyDelta(frame, referenceBuffer, refBytes, c.rawLength());
            } else if (step instanceof Step.Fetch) {
                raw = ChunkCodec.decompress(frame, c.rawLength());
            } else {
                throw new IllegalStateException("reused chunks are copied (copyLocal)");
            }
        } catch (OutpostException undecodable) {
            raw = null;
        }
        if (raw != null && Sha256.digest(raw).equals(c.hash())) {
            return raw;
        }
        // A copied chunk that rotted, or a delta or frame that does not decode to what was signed: fetch the chunk
        // itself once more. If that does not verify either, nothing of it is written.
        return fetchVerified(c);
    }

    /** The chunk frame fetched and decoded; {@code chunk-corrupt} unless it matches its signed hash. */
    private byte[] fetchVerified(ChunkRef c) {
        byte[] raw = ChunkCodec.decompress(client.fetch(chunkPath(c), FRAME_BYTES_MAX), c.rawLength());
        ChunkCodec.verify(raw, c.hash(), "chunk " + c.hash().hex().substring(0, 12) + " as served");
        return raw;
    }

    static String chunkPath(ChunkRef c) {
        return "v1/chunks/" + c.hash().hex();
    }

    /**
     * From a complete staging file (or a kept slot) to an active, healthy version: complete the slot, verify it
     * whole, switch the link, check health, and switch back when the check fails. Idempotent, so an install killed
     * anywhere in here finishes (or reverts) on the next run.
     */
    private Outcome finishActivation(
            ModelSlots slots, ModelInstall install, PublicKey key, HealthCheck health, Progress progress)
            throws IOException {
        return finishActivation(slots, install, key, health, progress, false);
    }

    /** {@code justVerified}: the staging file was verified whole a moment ago by this process. */
    private Outcome finishActivation(
            ModelSlots slots,
            ModelInstall install,
            PublicKey key,
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
                flushReports();
                return new Outcome(
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
        flushReports();
        throw new DeviceException(
                ExitCode.REFUSED,
                artifact + " version " + target.version() + " failed its health check " + health.tries()
                        + " time(s); "
                        + (back == null ? "no previous version to return to" : "reverted to version " + back)
                        + " [" + ErrorCode.HEALTH_CHECK_FAILED.key() + "]");
    }

    // ------------------------------------------------------------------ rollback and status

    /** Switches to the kept version (an operator's decision); the newer one stays in the other slot. */
    public Outcome rollback(String artifact) {
        try {
            PublicKey key = signingKey();
            ModelSlots slots = new ModelSlots(modelsRoot, artifact);
            ModelSlots.Slot active = slots.getActive(key)
                    .orElseThrow(() -> new DeviceException(ExitCode.BAD_INPUT, artifact + " is not installed"));
            ModelSlots.Slot kept = slots.getKept(key)
                    .orElseThrow(() ->
                            new DeviceException(ExitCode.BAD_INPUT, artifact + " has no kept version to roll back to"));
            if (!ModelSlots.verifies(kept.file(), kept.manifest())) {
                throw new OutpostException(ErrorCode.CHUNK_CORRUPT, "the kept version does not verify; not switching");
            }
            tx.run(() -> state.deleteInstall(artifact));
            slots.activate(kept.name());
            long from = active.manifest().version();
            long to = kept.manifest().version();
            tx.run(() -> {
                state.put(
                        artifact,
                        state.get(artifact)
                                .withHoldVersion(from)
                                .withLastOutcome("rolled back from " + from + " to " + to));
                reports.queue(artifact, from, to, to, "rolled-back", null, 0);
            });
            flushReports();
            return new Outcome(artifact, "switched", from, to, 0, 0, 0, 0, 0, null);
        } catch (OutpostException e) {
            throw fail(artifact, e.code(), e.getMessage(), e);
        } catch (IOException e) {
            throw storage("model storage failed: " + e.getMessage(), e);
        }
    }

    /**
     * Whether the background worker should install the kept assignment now: not when it is installed, failed its
     * health check before, or an operator rolled back from it.
     */
    public boolean wants(String artifact) {
        ArtifactState known = artifactState(artifact);
        if (known.assignment() == null) {
            return false;
        }
        Optional<Assignment> kept = keptAssignment(artifact);
        if (kept.isEmpty()) {
            return true; // let update() say what is wrong
        }
        String v = Long.toString(kept.get().version());
        if (refusedAsIs(artifact)
                || v.equals(String.valueOf(known.failedVersion()))
                || v.equals(String.valueOf(known.holdVersion()))) {
            return false;
        }
        if (tx.inTransaction(() -> state.getInstall(artifact)).isPresent()) {
            return true;
        }
        try {
            return new ModelSlots(modelsRoot, artifact)
                    .getActive(signingKey())
                    .map(s -> s.manifest().version() != kept.get().version())
                    .orElse(true);
        } catch (OutpostException | IOException e) {
            return true; // let update() say what is wrong
        }
    }

    /**
     * The assignment kept for {@code artifact} as it arrived, or empty when there is none or it cannot be read. Its
     * signature is not checked here: {@link #update} checks it before acting on it.
     */
    private Optional<Assignment> keptAssignment(String artifact) {
        return Optional.ofNullable(artifactState(artifact).assignment()).flatMap(encoded -> {
            try {
                return Optional.of(Assignment.decode(
                        SignedEnvelope.decode(Base64.getDecoder().decode(encoded))
                                .payload()));
            } catch (OutpostException | IllegalArgumentException e) {
                return Optional.empty();
            }
        });
    }

    /** {@code model status} as JSON: per artifact, the active and kept slots, the assignment and any install. */
    public String statusJson() {
        StringBuilder sb = new StringBuilder("{\"artifacts\":[");
        boolean first = true;
        PublicKey key = pinnedKey().map(SigningKeys::decodePublic).orElse(null);
        for (String artifact : artifacts()) {
            sb.append(first ? "" : ",").append("{\"artifact\":").append(JsonText.quote(artifact));
            first = false;
            ModelSlots slots = new ModelSlots(modelsRoot, artifact);
            try {
                Optional<String> activeName = slots.getActiveName();
                Optional<ModelSlots.Slot> active = key == null ? Optional.empty() : slots.getActive(key);
                Optional<ModelSlots.Slot> kept = key == null ? Optional.empty() : slots.getKept(key);
                sb.append(",\"active\":").append(slotJson(activeName.orElse(null), active));
                sb.append(",\"kept\":").append(slotJson(activeName.isPresent() ? slots.inactiveName() : null, kept));
            } catch (IOException | OutpostException e) {
                sb.append(",\"error\":").append(JsonText.quote(e.getMessage()));
            }
            ArtifactState known = artifactState(artifact);
            if (known.assignment() != null) {
                sb.append(",\"desired\":")
                        .append(keptAssignment(artifact)
                                .map(a -> "{\"version\":" + a.version() + ",\"rollback\":" + a.rollback()
                                        + ",\"expiresAt\":"
                                        + JsonText.quote(java.time.Instant.ofEpochMilli(a.expiresAtMs())
                                                .toString())
                                        + "}")
                                .orElse("null"));
            }
            if (refusedAsIs(artifact)) {
                sb.append(",\"refused\":true"); // the worker waits for a new assignment
            }
            Optional<ModelInstall> install = tx.inTransaction(() -> state.getInstall(artifact));
            install.ifPresent(i -> sb.append(",\"install\":{\"targetVersion\":")
                    .append(i.targetVersion())
                    .append(",\"phase\":")
                    .append(JsonText.quote(i.state().key()))
                    .append(",\"stepsDone\":")
                    .append(i.state().stepsDone())
                    .append(",\"bytesDownloaded\":")
                    .append(i.bytesDownloaded())
                    .append(",\"healthTries\":")
                    .append(i.state().healthTries())
                    .append('}'));
            if (known.highestVersion() != null) {
                sb.append(",\"highestVersion\":").append(known.highestVersion());
            }
            if (known.lastOutcome() != null) {
                sb.append(",\"lastOutcome\":").append(JsonText.quote(known.lastOutcome()));
            }
            sb.append('}');
        }
        long[] queue = reports.counts();
        return sb.append("],\"reportsQueued\":")
                .append(queue[0])
                .append(",\"reportsDropped\":")
                .append(queue[1])
                .append('}')
                .toString();
    }

    private static String slotJson(String name, Optional<ModelSlots.Slot> slot) {
        if (name == null || slot.isEmpty()) {
            return name == null ? "null" : "{\"slot\":" + JsonText.quote(name) + ",\"version\":null}";
        }
        Manifest m = slot.get().manifest();
        return "{\"slot\":" + JsonText.quote(name) + ",\"version\":" + m.version() + ",\"sizeBytes\":" + m.size()
                + ",\"sha256\":" + JsonText.quote(m.sha256().hex()) + "}";
    }

    /** Sends queued install reports (see {@link InstallReports#flush}); returns how many were delivered. */
    public int flushReports() {
        return reports.flush();
    }

    /**
     * Whether the assignment kept for {@code artifact} is the very one a permanent refusal (a bad signature, a refused
     * rollback, an invalid artifact...) was about: trying it again cannot help, so the background worker waits for a
     * new assignment of other content (an explicit {@code outpost model update} still tries). The service re-signs
     * assignments, so what counts is their content: version, manifest and rollback flag.
     */
    private boolean refusedAsIs(String artifact) {
        Optional<String> refused = Optional.ofNullable(artifactState(artifact).refusedAssignment());
        return refused.isPresent() && refused.equals(keptAssignment(artifact).map(AssignmentTrust::content));
    }

    private DeviceException fail(String artifact, ErrorCode code, String message, Exception cause) {
        if (code != ErrorCode.DOWNLOAD_INCOMPLETE) {
            long to = keptAssignment(artifact).map(Assignment::version).orElse(0L);
            Optional<String> refusedContent = keptAssignment(artifact).map(AssignmentTrust::content);
            tx.run(() -> {
                ArtifactState known = state.get(artifact).withLastOutcome("failed: " + message);
                // An expired assignment is cured by a fresh one of the same content: not a refusal to remember.
                if (code.kind() == ErrorCode.Kind.PERMANENT
                        && code != ErrorCode.ASSIGNMENT_EXPIRED
                        && refusedContent.isPresent()) {
                    known = known.withRefusedAssignment(refusedContent.get());
                }
                state.put(artifact, known);
                reports.queue(artifact, null, Math.max(to, 0), null, "failed", code.key(), client.bytesDownloaded());
            });
            flushReports();
        }
        return new DeviceException(ExitCode.of(code), message + " [" + code.key() + "]", cause);
    }

    private static byte[] read(FileChannel ch, long position, int length) throws IOException {
        byte[] data = new byte[length];
        readFully(ch, position, ByteBuffer.wrap(data));
        return data;
    }

    /** Fills {@code into} (from its position to its limit) with the bytes at {@code position}. */
    private static void readFully(FileChannel ch, long position, ByteBuffer into) throws IOException {
        long start = position - into.position();
        while (into.hasRemaining()) {
            if (ch.read(into, start + into.position()) < 0) {
                throw new IOException("a slot file ends early");
            }
        }
    }

    private static void write(FileChannel ch, long position, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            ch.write(b, position + b.position());
        }
    }

    private ArtifactState artifactState(String artifact) {
        return tx.inTransaction(() -> state.get(artifact));
    }

    private Optional<String> pinnedKey() {
        return tx.inTransaction(() -> settings.get(Setting.MODEL_SIGNING_KEY)).filter(v -> !v.isEmpty());
    }

    private static DeviceException storage(String message, Exception cause) {
        return new DeviceException(ExitCode.STORAGE, message, cause);
    }
}
