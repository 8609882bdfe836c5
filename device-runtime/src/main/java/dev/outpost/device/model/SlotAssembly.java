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
import dev.outpost.model.artifact.TensorDelta;
import dev.outpost.model.artifact.UpdatePlanner;
import dev.outpost.model.artifact.UpdatePlanner.Step;
import dev.outpost.model.faults.CrashPoints;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Assembles a version in the inactive slot's staging file, step by step of the plan: a held chunk is copied by the
 * kernel, a delta (chunk-local or tensor) applied against the held chunks it names, a new chunk fetched; each one
 * checked against the signed manifest before it is written, progress committed every {@link #LOCAL_STEPS_PER_COMMIT}
 * steps or
 * {@link #PROGRESS_COMMIT_NS} (a resumed install loses at most that), and the whole file verified at the end, held
 * chunks that rotted on disk fetched again. One per install: it holds the delta reference buffer for its length.
 */
final class SlotAssembly {
    /** Steps between progress commits at most (each commit syncs the staging file first). */
    static final int LOCAL_STEPS_PER_COMMIT = 256;
    /** Time between progress commits at most. */
    static final long PROGRESS_COMMIT_NS = 250_000_000L;
    /** How often a download collects the old generation (see {@link OldGeneration}). */
    static final long OLD_GENERATION_COLLECT_NS = 2_000_000_000L;

    private static final int FRAME_BYTES_MAX = Prefetch.FRAME_BYTES_MAX;
    /** The reference buffer grows by this much (64 KiB) at a time. */
    private static final int REFERENCE_GROWTH = 64 * 1024;

    private final ArtifactLink client;
    private final Transactions tx;
    private final ModelState state;
    /** Where a delta's reference chunks are read, for the length of one install's download (up to 1 MiB). */
    private byte[] referenceBuffer;

    SlotAssembly(ArtifactLink client, Transactions tx, ModelState state) {
        this.client = client;
        this.tx = tx;
        this.state = state;
    }

    /** Lets the reference buffer go (a large model's is up to 1 MiB): the download is over. */
    void release() {
        referenceBuffer = null;
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
                // Written bytes are made durable with each progress commit (every LOCAL_STEPS_PER_COMMIT steps or
                // PROGRESS_COMMIT_NS), not chunk by chunk: a sync a chunk cost a retrained model's update, where every
                // chunk comes by delta, a fifth of its time. A cut loses at most the downloads since the last commit;
                // a resumed install finds those that did reach the disk by their hashes (resumePoint).
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
    void verifyOrRepair(Path staging, Manifest target, Progress progress) throws IOException {
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
                raw = d.delta().kind() == DeltaIndex.Kind.TENSOR
                        ? TensorDelta.decode(frame, referenceBuffer, refBytes, c.rawLength())
                        : ChunkCodec.applyDelta(frame, referenceBuffer, refBytes, c.rawLength());
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
}
