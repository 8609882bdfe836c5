package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.JsonFields;
import dev.outpost.device.model.install.InstallState;
import dev.outpost.device.model.install.ModelInstall;
import dev.outpost.device.model.reports.InstallReports;
import dev.outpost.device.model.trust.AssignmentTrust;
import dev.outpost.device.render.Json;
import dev.outpost.device.store.ModelState;
import dev.outpost.device.store.ModelState.ArtifactState;
import dev.outpost.device.store.ReportStore;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.TrustedKeys;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
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

    static final int DOCUMENT_BYTES_MAX = SignedEnvelope.PAYLOAD_BYTES_MAX + 4096;
    /** Where a fetched manifest waits beside the slots until it is verified and the slot is cleared. */
    static final String FETCHED_MANIFEST = "manifest.fetched";
    /** An install record's manifest now: the slot holds it. */
    static final byte[] NO_DOCUMENT = new byte[0];

    private final Transactions tx;
    private final ModelState state;
    private final InstallReports reports;
    private final SlotAssembly assembly;
    private final Activation activation;
    private final Download download;
    private final Path modelsRoot;
    private final ArtifactLink client;
    private final ModelKeys keys;
    /** Assignment envelopes verified by this updater, with the key that verified each ({@link #verifiedAssignment}). */
    private final Map<SignedEnvelope, PublicKey> verifiedAssignments = new ConcurrentHashMap<>();

    private static final int VERIFIED_ASSIGNMENTS_MAX = 64;

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
            ArtifactLink client,
            LongSupplier clockMs) {
        this.tx = tx;
        this.state = state;
        this.reports = new InstallReports(tx, reports, client);
        this.assembly = new SlotAssembly(client, tx, state);
        this.activation = new Activation(tx, state, this.reports);
        this.download = new Download(client, tx, state, assembly, activation);
        this.modelsRoot = modelsRoot;
        this.client = client;
        this.keys = new ModelKeys(tx, settings, client, clockMs);
    }

    // ------------------------------------------------------------------ keys and assignments

    /** The keys model documents are trusted by, and the clock their expiry is judged by. */
    public ModelKeys keys() {
        return keys;
    }

    /**
     * Keeps the assignments from a sync answer or a check-in, the newest per artifact by issue time: an older one (a
     * replay, or a replica behind) never replaces a newer one, and an assignment the device's keys do not verify never
     * replaces one they do (a forged one with a late issue time would otherwise shut out the real ones). The first one
     * of an artifact is kept whatever it is: using it verifies it, and says why it is refused.
     */
    public void rememberAssignments(List<String> base64) {
        for (String a : base64) {
            try {
                Assignment parsed = Assignment.decode(
                        SignedEnvelope.decode(Base64.getDecoder().decode(a)).payload());
                boolean verifies = verifies(a, parsed.artifact());
                String kept = artifactState(parsed.artifact()).assignment();
                boolean keptVerifies = kept != null && verifies(kept, parsed.artifact());
                tx.run(() -> {
                    ArtifactState known = state.get(parsed.artifact());
                    if (known.assignment() != null) {
                        boolean newer = parsed.issuedAtMs() > issuedAt(known.assignment());
                        boolean replaces = verifies ? newer || !keptVerifies : newer && !keptVerifies;
                        if (!replaces) {
                            return;
                        }
                    }
                    state.put(parsed.artifact(), known.withAssignment(a));
                });
            } catch (OutpostException | IllegalArgumentException e) {
                // Unreadable assignments are not kept.
            }
        }
    }

    /** Whether the device's keys verify the assignment now; a service that cannot be asked for its keys: not yet. */
    private boolean verifies(String base64, String artifact) {
        try {
            verifiedAssignment(Base64.getDecoder().decode(base64), artifact);
            return true;
        } catch (OutpostException | IllegalArgumentException | DeviceException e) {
            return false;
        }
    }

    /**
     * {@link AssignmentTrust#verified} with the device's current keys, each key resolved as always (pins, delegation,
     * expiry), but the signature of an envelope this updater has verified with that very key not checked twice: a
     * check-in verifies the assignments it keeps, and the update it leads to would verify the same bytes again (an
     * Ed25519 verification takes 8-11 ms at the start of a process, before the JIT has compiled its arithmetic).
     */
    private Assignment verifiedAssignment(byte[] envelope, String artifact) {
        TrustedKeys trusted = keys.current();
        SignedEnvelope signed = SignedEnvelope.decode(envelope);
        PublicKey key = trusted.key(signed.keyId());
        if (key.equals(verifiedAssignments.get(signed))) {
            return AssignmentTrust.verified(signed, artifact); // these bytes verified with this key before
        }
        Assignment a = AssignmentTrust.verified(signed, key, artifact);
        if (verifiedAssignments.size() >= VERIFIED_ASSIGNMENTS_MAX) {
            verifiedAssignments.clear(); // a long-running worker sees assignment after assignment
        }
        verifiedAssignments.put(signed, key);
        return a;
    }

    /** The issue time of a kept assignment (unreadable: 0, so that any readable one replaces it). */
    private static long issuedAt(String base64) {
        try {
            return Assignment.decode(SignedEnvelope.decode(Base64.getDecoder().decode(base64))
                            .payload())
                    .issuedAtMs();
        } catch (OutpostException | IllegalArgumentException e) {
            return 0;
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
            TrustedKeys key = keys.installed();
            ModelSlots slots = new ModelSlots(modelsRoot, artifact);
            Optional<ModelInstall> pending = tx.inTransaction(() -> state.getInstall(artifact));
            if (pending.isPresent() && pending.get().manifest().length > 0) {
                // Recorded by a runtime that kept the signed manifest in the record: it goes to the slot, as now.
                slots.receive(pending.get().slot(), pending.get().manifest());
            }
            if (pending.isPresent() && !(pending.get().state() instanceof InstallState.Downloading)) {
                return activation.finishActivation(slots, pending.get(), key, health, progress);
            }
            String encoded = Optional.ofNullable(artifactState(artifact).assignment())
                    .orElseThrow(() -> new DeviceException(
                            ExitCode.BAD_INPUT, "no version of '" + artifact + "' is assigned to this device"));
            byte[] envelope = Base64.getDecoder().decode(encoded);
            Assignment a = verifiedAssignment(envelope, artifact);
            keys.noteVerified(a.issuedAtMs());
            // The version only: the plan reads the active slot's manifest again from its file (checked by then).
            ActiveCheck active = new ActiveCheck(slots, key);
            Long activeVersion = active.version();
            if (activeVersion != null && activeVersion == a.version()) {
                active.passed();
                return new Outcome(artifact, "up-to-date", a.version(), a.version(), 0, 0, 0, 0, 0, null);
            }
            ArtifactState known = artifactState(artifact);
            AssignmentTrust.checkInstallable(
                    a, keys.nowMs(), AssignmentTrust.Marks.of(known.highestVersion(), known.highestIssuedAtMs()));
            Optional<ModelSlots.Slot> kept =
                    slots.keptIs(a.version(), a.manifestSha256()) ? slots.getKept(key) : Optional.empty();
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
                active.passed();
                tx.run(() -> state.saveInstall(switchBack));
                Outcome o = activation.finishActivation(slots, switchBack, key, health, progress);
                return o.result().equals("installed")
                        ? new Outcome(artifact, "switched", o.fromVersion(), o.toVersion(), 0, 0, 0, 0, 0, null)
                        : o;
            }
            ModelInstall install = pending.isPresent()
                            && pending.get().targetVersion() == a.version()
                            && Download.pendingManifestIs(slots, pending.get(), a.manifestSha256())
                    ? pending.get()
                    : download.plan(slots, a, envelope, active, key);
            active.passed();
            return download.run(slots, install, key, health, progress);
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

    /** Switches to the kept version (an operator's decision); the newer one stays in the other slot. */
    public Outcome rollback(String artifact) {
        try {
            TrustedKeys key = keys.installed();
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
                    .getActive(keys.installed())
                    .map(s -> s.manifest().version() != kept.get().version())
                    .orElse(true);
        } catch (OutpostException | DeviceException | IOException e) {
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

    /** Per artifact: the active and kept slots, the assignment, any install; and the report queue. */
    public ModelStatus status() {
        List<ModelStatus.Artifact> out = new ArrayList<>();
        TrustedKeys key = keys.held(); // no network: a manifest by a key not seen yet is an error shown
        for (String artifact : artifacts()) {
            ModelSlots slots = new ModelSlots(modelsRoot, artifact);
            ModelStatus.Slot active = null;
            ModelStatus.Slot kept = null;
            String error = null;
            try {
                Optional<String> activeName = slots.getActiveName();
                active = slot(activeName.orElse(null), slots.getActive(key));
                kept = slot(activeName.isPresent() ? slots.inactiveName() : null, slots.getKept(key));
            } catch (IOException | OutpostException e) {
                error = e.getMessage();
            }
            ArtifactState known = artifactState(artifact);
            out.add(new ModelStatus.Artifact(
                    artifact,
                    active,
                    kept,
                    error,
                    known.assignment() != null,
                    keptAssignment(artifact)
                            .map(a -> new ModelStatus.Desired(a.version(), a.rollback(), a.expiresAtMs()))
                            .orElse(null),
                    refusedAsIs(artifact),
                    tx.inTransaction(() -> state.getInstall(artifact)).orElse(null),
                    known.highestVersion(),
                    known.lastOutcome()));
        }
        long[] queue = reports.counts();
        return new ModelStatus(out, queue[0], queue[1]);
    }

    /** {@code model status} as JSON ({@link Json#modelStatus}). */
    public String statusJson() {
        return Json.modelStatus(status());
    }

    private static ModelStatus.Slot slot(String name, Optional<ModelSlots.Slot> slot) {
        if (name == null) {
            return null;
        }
        return slot.map(s -> new ModelStatus.Slot(
                        name,
                        s.manifest().version(),
                        s.manifest().size(),
                        s.manifest().sha256().hex()))
                .orElseGet(() -> new ModelStatus.Slot(name, null, 0, null));
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
        return refused.isPresent() && refused.equals(refusalKey(artifact));
    }

    private DeviceException fail(String artifact, ErrorCode code, String message, Exception cause) {
        if (code != ErrorCode.DOWNLOAD_INCOMPLETE) {
            long to = keptAssignment(artifact).map(Assignment::version).orElse(0L);
            Optional<String> refusedContent = refusalKey(artifact);
            tx.run(() -> {
                ArtifactState known = state.get(artifact).withLastOutcome("failed: " + message);
                // An expired assignment or key delegation is cured by a fresh one: not a refusal to remember.
                if (code.kind() == ErrorCode.Kind.PERMANENT
                        && code != ErrorCode.ASSIGNMENT_EXPIRED
                        && code != ErrorCode.KEY_EXPIRED
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

    private ArtifactState artifactState(String artifact) {
        return tx.inTransaction(() -> state.get(artifact));
    }

    /**
     * What a refusal of the kept assignment is remembered by: its content and the key that signed it, so that the same
     * content signed by another key (the service given a key the root does delegate, after a refusal) is tried again.
     */
    private Optional<String> refusalKey(String artifact) {
        return keptAssignment(artifact).map(a -> {
            String keyId = SignedEnvelope.decode(
                            Base64.getDecoder().decode(artifactState(artifact).assignment()))
                    .keyId();
            return AssignmentTrust.content(a) + "|" + keyId;
        });
    }

    private static DeviceException storage(String message, Exception cause) {
        return new DeviceException(ExitCode.STORAGE, message, cause);
    }
}
