package dev.outpost.device.model;

import dev.outpost.device.model.ModelUpdater.Progress;
import dev.outpost.device.model.install.InstallState;
import dev.outpost.device.model.install.ModelInstall;
import dev.outpost.device.store.ModelState;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.ChunkCodec;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.UpdatePlanner;
import dev.outpost.model.artifact.UpdatePlanner.Step;
import dev.outpost.model.faults.CrashPoints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Assembles a version in the inactive slot's staging file, step by step of the plan: a held chunk is copied by the
 * kernel, a delta (chunk-local or tensor) applied against the held chunks it names, a new chunk fetched; each one
 * checked against the signed manifest before it is written (one that does not match fetched instead), progress
 * committed every {@link #LOCAL_STEPS_PER_COMMIT} steps or {@link #PROGRESS_COMMIT_NS} (a resumed install loses at
 * most that); a resumed install's file is verified whole at the end. One per install.
 */
final class SlotAssembly {
    /** Steps between progress commits at most (each commit syncs the staging file first). */
    static final int LOCAL_STEPS_PER_COMMIT = 256;
    /** Time between progress commits at most. */
    static final long PROGRESS_COMMIT_NS = 250_000_000L;
    /** How often a download collects the old generation (see {@link OldGeneration}). */
    static final long OLD_GENERATION_COLLECT_NS = 2_000_000_000L;

    private static final int FRAME_BYTES_MAX = Prefetch.FRAME_BYTES_MAX;
    /** Held chunks are hashed through this much of a buffer at a time. */
    private static final int LOCAL_PIECE_BYTES = 32 * 1024;

    private final ArtifactLink client;
    private final Transactions tx;
    private final ModelState state;
    /** Where held chunks are read, a piece at a time, to be hashed before the kernel copies them. */
    private byte[] localBuffer;

    /** The assembling thread's digest: every chunk is hashed here before it is written. */
    private final MessageDigest localDigest = Sha256.newDigest();

    SlotAssembly(ArtifactLink client, Transactions tx, ModelState state) {
        this.client = client;
        this.tx = tx;
        this.state = state;
    }

    /** Lets the buffer for held chunks go: the download is over. */
    void release() {
        localBuffer = null;
    }

    private static InstallState.Downloading downloading(ModelInstall install) {
        return (InstallState.Downloading) install.state();
    }

    void downloadSteps(
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
        ExecutorService committing = Executors.newFixedThreadPool(1, Prefetch.daemons("outpost-commit-"));
        try (Prefetch prefetch =
                new Prefetch(client, steps.size(), done, i -> job(steps.get(i), target.chunk(i), held, in))) {
            Future<?> committed = null; // the progress commit in flight
            int sinceCommit = 0;
            long lastCommitNs = System.nanoTime();
            long at = target.offset(done); // where chunk i starts, carried along
            for (int i = done; i < steps.size(); at += target.rawLength(i), i++) {
                Step step = steps.get(i);
                ChunkRef c = target.chunk(i);
                // Every chunk is checked against its signed hash before it is written: a held chunk that rotted on disk
                // since its version was installed is fetched instead.
                if (step instanceof Step.Reuse r) {
                    reuse(in, held.offset(r.held()), c, out, at);
                } else if (step instanceof Step.Copy cp) {
                    write(out, at, copied(out, target.offset(cp.earlier()), c));
                } else {
                    // Downloaded and decoded on the prefetch threads (null if it did not decode), verified here; if
                    // it is not what was signed, the chunk itself is fetched once more, and if that does not verify
                    // either, nothing of it is written.
                    byte[] raw = prefetch.take(i);
                    write(out, at, raw != null && verifies(raw, c) ? raw : fetchVerified(c));
                }
                sinceCommit++;
                // Written bytes are made durable with each progress commit (every LOCAL_STEPS_PER_COMMIT steps or
                // PROGRESS_COMMIT_NS), not chunk by chunk: a sync a chunk cost a retrained model's update, where every
                // chunk comes by delta, a fifth of its time. A cut loses at most the downloads since the last commit;
                // a resumed install finds those that did reach the disk by their hashes (resumePoint). A commit before
                // the last runs beside the steps after it (its sync took 13-16 ms of the loop, 20 MB written, each
                // time), one at a time: the next waits for it, so progress is recorded in order and only for bytes
                // synced; the last runs here.
                if (sinceCommit >= LOCAL_STEPS_PER_COMMIT
                        || System.nanoTime() - lastCommitNs >= PROGRESS_COMMIT_NS
                        || i == steps.size() - 1) {
                    if (committed != null) {
                        Prefetch.result(committed);
                    }
                    ModelInstall now = install.in(downloading(install).at(i + 1), client.bytesDownloaded() - baseBytes);
                    Runnable commit = () -> commitProgress(out, now);
                    if (i == steps.size() - 1) {
                        commit.run();
                        committed = null;
                    } else {
                        committed = committing.submit(commit);
                    }
                    sinceCommit = 0;
                    lastCommitNs = System.nanoTime();
                    OldGeneration.collectEvery(OLD_GENERATION_COLLECT_NS);
                }
                progress.update(
                        "downloading", i + 1, steps.size(), client.bytesDownloaded() - baseBytes, plan.downloadBytes());
            }
            out.force(true);
        } finally {
            // A commit still running (the loop failed) ends before the file is closed or anything else is recorded.
            committing.shutdown();
            try {
                committing.awaitTermination(1, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Syncs the staging file, then records the progress made up to it. */
    private void commitProgress(FileChannel out, ModelInstall now) {
        try {
            out.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        tx.run(() -> state.saveInstallProgress(now));
        CrashPoints.reached("download");
    }

    /**
     * Copies held chunk {@code c}, at {@code position} of the held version's file {@code in}, to {@code target} of
     * {@code out} once it matches its signed hash; else fetches it. The chunk is hashed through a 32 KiB buffer and
     * then copied by the kernel ({@code copy_file_range}): it never passes through the heap whole.
     */
    private void reuse(FileChannel in, long position, ChunkRef c, FileChannel out, long target) throws IOException {
        int length = c.rawLength();
        if (localBuffer == null) {
            localBuffer = new byte[LOCAL_PIECE_BYTES];
        }
        for (int done = 0; done < length; ) {
            int n = Math.min(localBuffer.length, length - done);
            readFully(in, position + done, ByteBuffer.wrap(localBuffer, 0, n));
            localDigest.update(localBuffer, 0, n);
            done += n;
        }
        if (!Sha256.of(localDigest.digest()).equals(c.hash())) {
            write(out, target, fetchVerified(c));
            return;
        }
        out.position(target);
        for (long done = 0; done < length; ) {
            long n = in.transferTo(position + done, length - done, out);
            if (n <= 0) {
                throw new IOException("the held version's file ends early");
            }
            done += n;
        }
    }

    /** Whether {@code raw} is chunk {@code c} as signed. */
    private boolean verifies(byte[] raw, ChunkRef c) {
        return Sha256.of(localDigest.digest(raw)).equals(c.hash());
    }

    /** A chunk copied from earlier in the file being assembled, verified; fetched if it rotted there. */
    private byte[] copied(FileChannel out, long from, ChunkRef c) throws IOException {
        byte[] raw = read(out, from, c.rawLength());
        return verifies(raw, c) ? raw : fetchVerified(c);
    }

    /**
     * Checks the assembled file whole; if it does not match (a held chunk rotted on disk since it was installed),
     * finds the chunks that do not verify and fetches them, then checks again. Either the file verifies, or the
     * install stops with {@code chunk-corrupt} and nothing is switched.
     */
    void verifyOrRepair(Path staging, Manifest target, Progress progress) throws IOException {
        if (ModelSlots.verifies(staging, target)) {
            return;
        }
        try (FileChannel ch = FileChannel.open(staging, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            int repaired = 0;
            long at = 0;
            for (int i = 0; i < target.chunkCount(); at += target.rawLength(i), i++) {
                ChunkRef c = target.chunk(i);
                if (!verifies(read(ch, at, c.rawLength()), c)) {
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
    static int resumePoint(FileChannel out, Manifest target, int committed) throws IOException {
        long size = out.size();
        // Fewer bytes than the committed steps wrote: the file is not the one they went into (lost with the power
        // before its name was durable, or replaced); it is assembled again from the start.
        int done = size < target.offset(committed) ? 0 : committed;
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

    /**
     * The prefetch job of a remote step (a delta or a chunk to fetch), or {@code null} for a local one. What it needs
     * of the manifests is read here, on the assembling thread (they read their files through shared buffers); the job
     * names the frame to download and, once it is downloaded, reads the held chunks of a delta from {@code in}
     * (positional reads, safe from any thread) and returns the target chunk (verified by the assembling thread), or
     * {@code null} if it does not decode.
     */
    private Prefetch.Job job(Step step, ChunkRef c, Manifest held, FileChannel in) {
        // if/else rather than a pattern switch: each pattern switch has a class generated at run time (the
        // class-file library, megabytes of compiler arena), and a device pays for that on every install.
        String frame;
        DeltaIndex.Kind kind;
        long[] offsets;
        int[] lengths;
        if (step instanceof Step.Delta d) {
            frame = "delta:" + d.delta().hash().hex();
            kind = d.delta().kind();
            int[] refs = d.delta().references();
            offsets = new long[refs.length];
            lengths = new int[refs.length];
            for (int k = 0; k < refs.length; k++) {
                offsets[k] = held.offset(refs[k]);
                lengths[k] = held.rawLength(refs[k]);
            }
        } else if (step instanceof Step.Fetch) {
            frame = "chunk:" + c.hash().hex();
            kind = null;
            offsets = new long[0];
            lengths = new int[0];
        } else {
            return null;
        }
        return new Prefetch.Job() {
            @Override
            public String frame() {
                return frame;
            }

            @Override
            public byte[] decode(Prefetch.Frame frame, StepDecoder decoder) throws IOException {
                return decoder.produce(frame, kind, in, offsets, lengths, c);
            }
        };
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

    static byte[] read(FileChannel ch, long position, int length) throws IOException {
        byte[] data = new byte[length];
        readFully(ch, position, ByteBuffer.wrap(data));
        return data;
    }

    /** Fills {@code into} (from its position to its limit) with the bytes at {@code position}. */
    static void readFully(FileChannel ch, long position, ByteBuffer into) throws IOException {
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
}
