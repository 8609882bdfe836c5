package dev.outpost.sync.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.artifact.Assignment;
import dev.outpost.model.artifact.ByteSource;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.ManifestBuilder;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.TensorDelta;
import dev.outpost.model.artifact.TensorLayout;
import dev.outpost.model.artifact.UpdatePlanner;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.Replica;
import dev.outpost.sync.rollout.RolloutService;
import dev.outpost.sync.store.ArtifactStore;
import dev.outpost.sync.store.ArtifactStore.VersionRow;
import dev.outpost.sync.store.DeviceRecord;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.smallrye.mutiny.subscription.Cancellable;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jboss.logging.Logger;

/**
 * Artifact versions: streamed uploads cut into chunks and stored once, signed manifests, chunk-local delta indexes
 * computed once per version pair, and the signed assignments that tell devices what to run.
 */
@ApplicationScoped
public class ArtifactService {
    private static final Logger LOG = Logger.getLogger(ArtifactService.class);
    /** Assignments are re-signed at most this often; a change of the desired version shows within it. */
    private static final long ASSIGNMENT_CACHE_MS = 1000;

    private final ChunkStore chunks;
    private final ArtifactStore db;
    private final ArtifactKeys keys;
    private final OutpostConfig config;
    private final Map<String, Uni<byte[]>> deltaWork = new ConcurrentHashMap<>();
    private final Counter uploadedBytes;
    private final Counter deltasComputed;
    private final Counter deltaJobsRun;
    private final Replica replica;
    private final ArtifactGc gc;
    private final RolloutService rollouts;
    private final Map<String, SignedAssignment> signedCache = new ConcurrentHashMap<>();
    private final Map<String, String> manifestShas = new ConcurrentHashMap<>();
    private volatile DesiredCache desiredCache = new DesiredCache(List.of(), 0);

    private record SignedAssignment(String base64, long signedAtMs) {}

    private record DesiredCache(List<ArtifactStore.Desired> rows, long readAtMs) {}

    public ArtifactService(
            ChunkStore chunks,
            ArtifactStore db,
            ArtifactKeys keys,
            OutpostConfig config,
            MeterRegistry metrics,
            RolloutService rollouts,
            Replica replica,
            ArtifactGc gc) {
        this.chunks = chunks;
        this.gc = gc;
        this.rollouts = rollouts;
        this.db = db;
        this.keys = keys;
        this.config = config;
        this.uploadedBytes = metrics.counter("outpost.artifacts.uploaded.bytes");
        this.deltasComputed = metrics.counter("outpost.artifacts.deltas.computed");
        this.deltaJobsRun = metrics.counter("outpost.artifacts.delta.jobs");
        this.replica = replica;
    }

    public Uni<Void> checkVersionFree(String artifact, long version) {
        return db.versionExists(artifact, version).map(exists -> {
            if (exists) {
                throw new Problem(
                        ErrorCode.ALREADY_EXISTS,
                        artifact + " version " + version
                                + " exists or existed; versions are immutable and their numbers never reused");
            }
            return null;
        });
    }

    /**
     * Blocking: cuts the body into chunks and stores every chunk not stored yet. Memory stays at a few chunks
     * whatever the size. {@code expectedSha256}, when given, must match the whole body.
     */
    public Manifest storeChunks(String artifact, long version, InputStream body, Sha256 expectedSha256)
            throws IOException {
        long max = config.artifacts().uploadBytesMax();
        InputStream limited = new FilterInputStream(body) {
            private long count;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0 && (count += n) > max) {
                    throw new Problem(ErrorCode.PAYLOAD_TOO_LARGE, "artifact larger than " + max + " bytes");
                }
                return n;
            }
        };
        Manifest m = ManifestBuilder.build(artifact, version, System.currentTimeMillis(), limited, (hash, raw) -> {
            var stored = chunks.length(ChunkStore.Kind.CHUNK, hash);
            if (stored.isPresent()) {
                return (int) stored.getAsLong();
            }
            byte[] frame = ChunkCodec.compress(raw, ChunkCodec.STORE_LEVEL);
            try {
                chunks.put(ChunkStore.Kind.CHUNK, hash, frame);
            } catch (IOException e) {
                // The service's storage failed, not the upload: a 503 the uploader can retry, not a 400.
                throw new Problem(
                        ErrorCode.UNAVAILABLE, "the chunk store could not take the upload: " + e.getMessage());
            }
            return frame.length;
        });
        if (m.size() == 0) {
            throw new Problem(ErrorCode.ARTIFACT_INVALID, "an artifact version cannot be empty");
        }
        if (expectedSha256 != null && !expectedSha256.equals(m.sha256())) {
            throw new Problem(
                    ErrorCode.ARTIFACT_INVALID,
                    "the upload's SHA-256 is " + m.sha256().hex() + ", not the announced " + expectedSha256.hex());
        }
        uploadedBytes.increment(m.size());
        return m;
    }

    /** Signs the manifest and records the version. */
    public Uni<VersionRow> publish(Manifest m, String actor) {
        byte[] payload = m.encode();
        byte[] envelope =
                SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, payload, keys.keys()).encode();
        return db.insertVersion(m, envelope, Sha256.digest(payload).hex(), actor);
    }

    public Uni<VersionRow> version(String artifact, long version) {
        return db.getVersion(artifact, version)
                .map(found -> found.orElseThrow(
                        () -> new Problem(ErrorCode.NOT_FOUND, "no " + artifact + " version " + version)));
    }

    /**
     * The version's manifest envelope as served: signed by the current key. One signed before a key rotation is signed
     * again with the key in use (on a worker: Ed25519ph hashes the whole manifest), so a device whose root delegates
     * only the new key still verifies it; Ed25519 is deterministic, so every replica with that key serves the same
     * bytes. The payload, and so what assignments name, never changes.
     */
    public Uni<byte[]> servedManifest(VersionRow row) {
        // Read in place: the common case (signed by the current key) copies nothing of a manifest of up to 16 MB.
        if (SignedEnvelope.view(row.envelope()).keyId().equals(keys.keys().keyId())) {
            return Uni.createFrom().item(row.envelope());
        }
        byte[] cached = resigned.get(row.manifestSha256());
        if (cached != null
                && SignedEnvelope.view(cached).keyId().equals(keys.keys().keyId())) {
            return Uni.createFrom().item(cached);
        }
        return Uni.createFrom()
                .item(() -> {
                    SignedEnvelope stored = SignedEnvelope.decode(row.envelope());
                    return SignedEnvelope.sign(stored.payloadType(), stored.payload(), keys.keys())
                            .encode();
                })
                .runSubscriptionOn(io.smallrye.mutiny.infrastructure.Infrastructure.getDefaultWorkerPool())
                .invoke(envelope -> {
                    if (resigned.size() >= RESIGNED_MAX) {
                        resigned.clear();
                    }
                    resigned.put(row.manifestSha256(), envelope);
                });
    }

    /** Manifests signed again since a key rotation, by payload SHA-256: the few versions in rollout are asked often. */
    private final Map<String, byte[]> resigned = new ConcurrentHashMap<>();

    private static final int RESIGNED_MAX = 8;

    public Uni<List<VersionRow>> versions() {
        return db.listVersions();
    }

    /**
     * The chunk-local deltas from one version to another (binary {@link DeltaIndex}), computed on a worker the first
     * time a device asks and served from the database afterwards.
     */
    public Uni<byte[]> deltaIndex(DeviceRecord device, String artifact, long from, long to) {
        return deltaIndex(artifact, from, to, () -> mayCompute(device, artifact, to));
    }

    /** As above; {@code gate} decides whether a job may start when the index is not stored yet. */
    private Uni<byte[]> deltaIndex(String artifact, long from, long to, java.util.function.Supplier<Uni<Void>> gate) {
        if (from == to) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "from and to are the same version");
        }
        return version(artifact, from)
                .flatMap(held -> version(artifact, to)
                        .flatMap(target -> db.getDeltaIndex(held.manifestSha256(), target.manifestSha256())
                                .flatMap(cached -> cached.isPresent()
                                        ? Uni.createFrom().item(cached.get())
                                        : gate.get()
                                                .flatMap(allowed -> deltaWork.computeIfAbsent(
                                                        held.manifestSha256() + ">" + target.manifestSha256(),
                                                        key -> onceAcrossReplicas(
                                                                        held,
                                                                        target,
                                                                        System.nanoTime() + DELTA_WAIT.toNanos())
                                                                // A block, not an expression: remove() returns this
                                                                // very Uni, and eventually(Supplier<Uni>) would
                                                                // subscribe to it and wait on itself.
                                                                .eventually(() -> {
                                                                    deltaWork.remove(key);
                                                                })
                                                                .memoize()
                                                                .indefinitely())))));
    }

    /**
     * How long a replica's claim of a delta job lasts unless renewed: a replica killed mid-job (or restarted under a
     * new id) is taken over after it. The claim is renewed every {@link #DELTA_CLAIM_RENEW} while the job runs.
     */
    static final long DELTA_CLAIM_SECONDS = 30;

    static final Duration DELTA_CLAIM_RENEW = Duration.ofSeconds(10);

    /** How long a request waits for another replica's job before its device is told to come back (503). */
    static final Duration DELTA_WAIT = Duration.ofSeconds(20);

    private static final Duration DELTA_POLL = Duration.ofMillis(250);

    /**
     * The deltas from {@code held} to {@code target}, computed once however many replicas run: this replica computes
     * them when it can claim the job ({@link ArtifactStore#claimDeltaJob}); while another replica holds the claim it
     * waits for that one's index, up to {@code deadlineNanos}.
     */
    private Uni<byte[]> onceAcrossReplicas(VersionRow held, VersionRow target, long deadlineNanos) {
        String from = held.manifestSha256();
        String to = target.manifestSha256();
        return db.claimDeltaJob(from, to, replica.id(), DELTA_CLAIM_SECONDS).flatMap(claimed -> {
            if (claimed) {
                // Held for as long as the job runs, however long; a killed replica stops renewing, and its claim
                // lapses.
                Cancellable renewing = Multi.createFrom()
                        .ticks()
                        .every(DELTA_CLAIM_RENEW)
                        .onItem()
                        .transformToUniAndConcatenate(
                                tick -> db.claimDeltaJob(from, to, replica.id(), DELTA_CLAIM_SECONDS)
                                        .onFailure()
                                        .recoverWithItem(false))
                        .subscribe()
                        .with(renewed -> {}, failure -> {});
                // The replica that held the claim may have finished just before: its index is then served.
                return db.getDeltaIndex(from, to)
                        .flatMap(done ->
                                done.isPresent() ? Uni.createFrom().item(done.get()) : computeAndSave(held, target))
                        .eventually(renewing::cancel)
                        .call(x -> db.releaseDeltaJob(from, to, replica.id()))
                        .onFailure()
                        .call(e -> db.releaseDeltaJob(from, to, replica.id())
                                .onFailure()
                                .recoverWithNull());
            }
            return Uni.createFrom()
                    .voidItem()
                    .onItem()
                    .delayIt()
                    .by(DELTA_POLL)
                    .flatMap(x -> db.getDeltaIndex(from, to))
                    .flatMap(found -> {
                        if (found.isPresent()) {
                            return Uni.createFrom().item(found.get());
                        }
                        if (System.nanoTime() - deadlineNanos > 0) {
                            return Uni.createFrom()
                                    .failure(new Problem(
                                            ErrorCode.UNAVAILABLE,
                                            "another replica is computing these deltas: try again in a minute"));
                        }
                        return onceAcrossReplicas(held, target, deadlineNanos);
                    });
        });
    }

    /** Computes the deltas on a worker (within {@link #DELTA_JOBS_MAX}) and stores their index. */
    private Uni<byte[]> computeAndSave(VersionRow held, VersionRow target) {
        // As an upload: its delta frames are stored before the index that refers to them, so no collection meanwhile.
        return gc.duringUpload(
                target.artifact(),
                target.version(),
                () -> Uni.createFrom()
                        .item(() -> {
                            deltaJobsRun.increment();
                            return boundedDeltas(manifest(held), manifest(target));
                        })
                        .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                        .flatMap(computed -> {
                            byte[] encoded = computed.encode();
                            return db.saveDeltaIndex(
                                            held.manifestSha256(),
                                            target.manifestSha256(),
                                            encoded,
                                            computed.entries().stream()
                                                    .mapToLong(DeltaIndex.Entry::length)
                                                    .sum())
                                    .replaceWith(encoded);
                        }));
    }

    /**
     * Whether this device may start a delta job into {@code to}: only into the version it is assigned (an index
     * computed before is served to anyone), and only while fewer than {@link #DELTA_JOBS_MAX} run. Either way a
     * device is told to come back (503 {@code unavailable}: it retries later, its install resumes).
     */
    private Uni<Void> mayCompute(DeviceRecord device, String artifact, long to) {
        return desiredFor(device).map(wanted -> {
            RolloutService.Desired d = wanted.get(artifact);
            if (d == null || d.version() != to) {
                // 503, not a refusal for good: another replica may know of the assignment a second before this one.
                throw new Problem(
                        ErrorCode.UNAVAILABLE,
                        "deltas are computed only into the version assigned to this device"
                                + (d == null ? " (none of " + artifact + ")" : " (" + d.version() + ")")
                                + "; sync and ask again");
            }
            return null;
        });
    }

    /** Delta jobs computing at once (each uses up to four threads); past it a device is told to come back. */
    static final int DELTA_JOBS_MAX = 2;

    private final JobSlots deltaJobs =
            new JobSlots(DELTA_JOBS_MAX, "other delta computations are running: try again in a minute");

    private DeltaIndex boundedDeltas(Manifest held, Manifest target) {
        return deltaJobs.run(() -> computeDeltas(held, target));
    }

    /** Blocking and CPU-heavy: one delta per target chunk the held version lacks, kept when it beats the chunk. */
    DeltaIndex computeDeltas(Manifest held, Manifest target) {
        Map<Integer, int[]> refs = UpdatePlanner.references(held, target);
        int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        ExecutorService pool = Executors.newFixedThreadPool(
                threads, Thread.ofPlatform().name("delta-", 0).factory());
        try {
            List<Future<DeltaIndex.Entry>> work = new ArrayList<>();
            refs.forEach((i, r) -> work.add(pool.submit(() -> delta(held, target, i, r))));
            // Where both versions are tensor files, each chunk the held version lacks may also be a tensor delta; a
            // device takes the smaller of the two (UpdatePlanner.plan), so no chunk costs more than before.
            Optional<TensorLayout> heldLayout = TensorLayout.read(contentOf(held));
            Optional<TensorLayout> targetLayout = TensorLayout.read(contentOf(target));
            if (heldLayout.isPresent() && targetLayout.isPresent()) {
                TensorDelta.Pairing pairing = new TensorDelta.Pairing(held, heldLayout.get(), targetLayout.get());
                Manifest.Index heldIndex = held.index();
                for (int i = 0; i < target.chunkCount(); i++) {
                    if (heldIndex.firstOf(target, i) < 0) {
                        int chunk = i;
                        work.add(pool.submit(() -> tensorDelta(pairing, held, target, chunk)));
                    }
                }
            }
            List<DeltaIndex.Entry> entries = new ArrayList<>();
            for (Future<DeltaIndex.Entry> f : work) {
                DeltaIndex.Entry e = f.get();
                if (e != null) {
                    entries.add(e);
                }
            }
            entries.sort(Comparator.comparingInt(DeltaIndex.Entry::target));
            return new DeltaIndex(held.digest(), target.digest(), entries);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Problem(ErrorCode.UNAVAILABLE, "delta computation interrupted");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException re
                    ? re
                    : new UncheckedIOException(new IOException(e.getCause()));
        } finally {
            pool.shutdownNow();
        }
    }

    private DeltaIndex.Entry delta(Manifest held, Manifest target, int i, int[] refs) throws IOException {
        ChunkRef c = target.chunks().get(i);
        byte[] delta = ChunkCodec.compressDelta(raw(c), reference(held, refs), ChunkCodec.DELTA_LEVEL);
        return offer(i, DeltaIndex.Kind.CHUNK_LOCAL, refs, delta, c);
    }

    /**
     * Target chunk {@code i} as a tensor delta against the same tensors of the held version, when it has some and the
     * delta beats the whole chunk frame; else null.
     */
    private DeltaIndex.Entry tensorDelta(TensorDelta.Pairing pairing, Manifest held, Manifest target, int i)
            throws IOException {
        ChunkRef c = target.chunks().get(i);
        Optional<TensorDelta.Mapping> mapping =
                TensorDelta.map(pairing, target.offset(i), c.rawLength(), TensorDelta.TRANSFORM);
        if (mapping.isEmpty()) {
            return null;
        }
        int[] refs = mapping.get().references();
        byte[] ref = reference(held, refs);
        byte[] delta = TensorDelta.encode(raw(c), mapping.get().segments(), ref, ref.length, TensorDelta.LEVEL);
        return offer(i, DeltaIndex.Kind.TENSOR, refs, delta, c);
    }

    /** The delta frame stored and its entry, when it beats the whole chunk frame {@code c}; else null. */
    private DeltaIndex.Entry offer(int i, DeltaIndex.Kind kind, int[] refs, byte[] delta, ChunkRef c)
            throws IOException {
        deltasComputed.increment();
        if (delta.length >= c.storedLength()) {
            return null;
        }
        Sha256 hash = Sha256.digest(delta);
        chunks.put(ChunkStore.Kind.DELTA, hash, delta);
        return new DeltaIndex.Entry(i, kind, refs, hash, delta.length);
    }

    /** The held chunks {@code refs}, decoded and concatenated in order: a delta's reference. */
    private byte[] reference(Manifest held, int[] refs) throws IOException {
        ByteArrayOutputStream reference = new ByteArrayOutputStream();
        for (int k : refs) {
            reference.writeBytes(raw(held.chunks().get(k)));
        }
        return reference.toByteArray();
    }

    /** A stored chunk's raw bytes. */
    private byte[] raw(ChunkRef c) throws IOException {
        return ChunkCodec.decompress(frame(c), c.rawLength());
    }

    /** The bytes of a stored version, read chunk by chunk from the store as they are asked for (one kept decoded). */
    private ByteSource contentOf(Manifest m) {
        long[] offsets = m.offsets();
        return new ByteSource() {
            private int cached = -1;
            private byte[] decoded;

            @Override
            public long size() {
                return m.size();
            }

            @Override
            public synchronized void readFully(long position, byte[] into, int offset, int length) throws IOException {
                if (position < 0 || length < 0 || position > m.size() - length) {
                    throw new EOFException(length + " bytes at " + position + " are past the end");
                }
                for (int done = 0; done < length; ) {
                    long at = position + done;
                    int k = Manifest.chunkAt(offsets, at);
                    if (k != cached) {
                        decoded = raw(m.chunks().get(k));
                        cached = k;
                    }
                    int from = (int) (at - offsets[k]);
                    int n = Math.min(length - done, decoded.length - from);
                    System.arraycopy(decoded, from, into, offset + done, n);
                    done += n;
                }
            }
        };
    }

    private byte[] frame(ChunkRef c) throws IOException {
        return chunks.read(ChunkStore.Kind.CHUNK, c.hash())
                .orElseThrow(() -> new IllegalStateException("chunk " + c.hash() + " is missing from the store"));
    }

    static Manifest manifest(VersionRow row) {
        return Manifest.decode(SignedEnvelope.decode(row.envelope()).payload());
    }

    /** Makes {@code version} the one every device should run; below the highest ever desired it is a rollback. */
    public Uni<ArtifactStore.Desired> setDesired(String artifact, long version, String actor) {
        return version(artifact, version)
                .flatMap(v -> db.listDesired())
                .flatMap(before -> db.setDesired(artifact, version, actor).invoke(d -> {
                    desiredCache = new DesiredCache(List.of(), 0);
                    signedCache.clear();
                    before.stream()
                            .filter(b -> b.artifact().equals(artifact))
                            .findFirst()
                            .ifPresent(b -> prepareDeltas(artifact, b.version(), version));
                }));
    }

    /**
     * Starts computing the deltas from {@code from} to {@code to} in the background (when a version becomes desired
     * or a rollout is created), so the first device to ask does not wait for them. Failures are logged; a device's
     * request computes them again.
     */
    public void prepareDeltas(String artifact, long from, long to) {
        if (from == to) {
            return;
        }
        // The service's own job, when a version is desired: no device to check, bounded like the rest.
        deltaIndex(artifact, from, to, () -> Uni.createFrom().voidItem())
                .subscribe()
                .with(
                        index -> LOG.infof(
                                "deltas %s %d -> %d ready (%d bytes of index)", artifact, from, to, index.length),
                        e -> LOG.warnf("deltas %s %d -> %d not prepared: %s", artifact, from, to, e.toString()));
    }

    /** The versions deltas into {@code version} are ready from. */
    public Uni<List<ArtifactStore.DeltaFrom>> deltasInto(String artifact, long version) {
        return version(artifact, version).flatMap(v -> db.deltasInto(artifact, v.manifestSha256()));
    }

    public Uni<List<ArtifactStore.Desired>> desired() {
        return db.listDesired();
    }

    /**
     * Signed assignments (base64 envelopes) for one device, for its sync answer and check-in: the desired version of
     * every artifact, where a rollout that targets the device decides instead.
     */
    public Uni<List<String>> assignmentsFor(DeviceRecord device) {
        return desiredFor(device).flatMap(wanted -> {
            Uni<List<String>> out = Uni.createFrom().item(new ArrayList<>());
            for (RolloutService.Desired d : wanted.values()) {
                out = out.flatMap(list -> signed(d).map(a -> {
                    list.add(a);
                    return list;
                }));
            }
            return out;
        });
    }

    /** What this device should run now, per artifact: the desired version, or its rollout's. */
    private Uni<Map<String, RolloutService.Desired>> desiredFor(DeviceRecord device) {
        return desiredBase()
                .flatMap(base -> rollouts.desiredFor(device).map(rolled -> {
                    Map<String, RolloutService.Desired> wanted = new java.util.TreeMap<>();
                    base.forEach(d -> wanted.put(
                            d.artifact(), new RolloutService.Desired(d.artifact(), d.version(), d.rollback())));
                    rolled.forEach(d -> wanted.put(d.artifact(), d));
                    return wanted;
                }));
    }

    private Uni<List<ArtifactStore.Desired>> desiredBase() {
        DesiredCache c = desiredCache;
        if (System.currentTimeMillis() - c.readAtMs() < ASSIGNMENT_CACHE_MS) {
            return Uni.createFrom().item(c.rows());
        }
        return db.listDesired().invoke(rows -> desiredCache = new DesiredCache(rows, System.currentTimeMillis()));
    }

    /** One signed assignment, re-signed at most once a second per (artifact, version, rollback). */
    /**
     * The newest issue time this replica gave an assignment of each artifact. Devices take only assignments issued
     * after the one behind their last install (a replay defence), so a cached assignment older than one issued since
     * for another state of the artifact (v2, then a rollback to v1, then v2 again within the cache's second) must not
     * be handed out again, and no two are issued in the same millisecond.
     */
    private final Map<String, Long> lastIssued = new ConcurrentHashMap<>();

    private Uni<String> signed(RolloutService.Desired d) {
        String key = d.artifact() + "|" + d.version() + "|" + d.rollback();
        SignedAssignment cached = signedCache.get(key);
        long now = System.currentTimeMillis();
        if (cached != null
                && now - cached.signedAtMs() < ASSIGNMENT_CACHE_MS
                && cached.signedAtMs() >= lastIssued.getOrDefault(d.artifact(), 0L)) {
            return Uni.createFrom().item(cached.base64());
        }
        return manifestSha(d.artifact(), d.version()).map(sha -> {
            long issued =
                    lastIssued.merge(d.artifact(), System.currentTimeMillis(), (was, wall) -> Math.max(was + 1, wall));
            var a = new Assignment(
                    d.artifact(),
                    d.version(),
                    Sha256.parse(sha),
                    issued,
                    issued + config.artifacts().assignmentTtl().toMillis(),
                    d.rollback());
            String b64 = Base64.getEncoder()
                    .encodeToString(SignedEnvelope.sign(Assignment.PAYLOAD_TYPE, a.encode(), keys.keys())
                            .encode());
            signedCache.put(key, new SignedAssignment(b64, issued));
            return b64;
        });
    }

    /** Versions are immutable, so their manifest hashes are kept once read. */
    private Uni<String> manifestSha(String artifact, long version) {
        String key = artifact + "|" + version;
        String known = manifestShas.get(key);
        if (known != null) {
            return Uni.createFrom().item(known);
        }
        return version(artifact, version).map(v -> {
            manifestShas.put(key, v.manifestSha256());
            return v.manifestSha256();
        });
    }

    /** Records a device's install report; a running rollout of the artifact is evaluated with it at once. */
    public Uni<Void> report(String deviceId, ArtifactStore.Report report) {
        return db.recordReport(deviceId, report).flatMap(x -> rollouts.evaluateArtifact(report.artifact()));
    }
}
