package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.artifact.FastCdc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * Keeps the next {@link #WINDOW} remote steps of a plan in flight (however far ahead they are) while the current step
 * is written. Their frames are downloaded {@link #BATCH} to a request (docs/artifacts.md, "Frames in one request") on
 * the download threads, so a link's round trip and a request's own cost, on both sides, are paid once per batch
 * rather than once per chunk; each frame is then decoded on a decoding thread, so that a retrained model's update,
 * where every chunk is a delta, decodes beside the assembling thread's checks and writes.
 * Results are still used strictly in plan order, and at most {@link #WINDOW} of them (a few MB) are held at a time. A
 * service that does not answer frame batches (one from before them) is asked one frame at a time, as before.
 */
final class Prefetch implements AutoCloseable {
    /**
     * Frames in flight at most. Measured on an 85 MB retrained model's update (1,133 deltas), 2 cores: 16 frames in
     * flight (4 requests of 4) were no faster than 8 and promoted what was in flight out of the 0.75 MB survivor
     * spaces, which grew the old generation to 73 MB.
     */
    static final int WINDOW = 8;
    /** Frames to a request: 2 to 8 measured alike (0.95-1.0 s for the update above), against 1.2 s one to a request. */
    static final int BATCH = 4;

    static final int THREADS = WINDOW / BATCH;
    /**
     * Decoding threads. Each keeps what it decodes with for the install (a reference buffer of up to 1 MiB, a zstd
     * context, the direct buffer the JDK reads files through). A second one was no faster on 2 cores, where the
     * assembling thread, the downloads, the compiler and (in the benchmarks) the service take the other, and cost
     * 1.2-2 MB: the 85 MB retrained float32 update took 0.90-1.02 s with two against 0.85-1.11 s with one, peaking at
     * 63.2-63.8 MB against 62.0-62.2 MB (session 23, five runs each, alternating). Turns are handed out in step order
     * (see {@code turns}), so more than one cannot deadlock.
     */
    static final int DECODERS = 1;
    /** Steps decoded (or being decoded) ahead of the one the assembling thread writes, at most. */
    static final int DECODED_AHEAD = 2;

    static final int FRAME_BYTES_MAX = FastCdc.MAX_BYTES + FastCdc.MAX_BYTES / 8 + 1024;

    /** A remote step's work: the frame it downloads, and what that frame is turned into. */
    interface Job {
        /** The frame's name: {@code chunk:<sha256>} or {@code delta:<sha256>}. */
        String frame();

        byte[] decode(Frame frame, StepDecoder decoder) throws IOException;
    }

    /**
     * A downloaded frame: {@code body[offset, offset + length)}. The frames of a batch share its body and are decoded
     * where they arrived: what a window holds is the bytes downloaded, not a copy of them as well.
     */
    record Frame(byte[] body, int offset, int length) {
        static Frame whole(byte[] body) {
            return new Frame(body, 0, body.length);
        }
    }

    private final ArtifactLink client;
    private final int steps;
    /** Step {@code i}'s job, made on the assembling thread, or {@code null} for a step that is not remote. */
    private final IntFunction<Job> jobs;

    private final ExecutorService downloads = Executors.newFixedThreadPool(THREADS, daemons("outpost-download-"));
    private final ExecutorService decoding;
    private final List<StepDecoder> decoders = new ArrayList<>();
    private final ThreadLocal<StepDecoder> decoder = ThreadLocal.withInitial(() -> {
        StepDecoder d = new StepDecoder();
        synchronized (decoders) {
            decoders.add(d);
        }
        return d;
    });
    private final Map<Integer, Future<byte[]>> inflight = new HashMap<>();
    /**
     * The decoding turns: remote steps are numbered in plan order as they are submitted, and step {@code q} may start
     * decoding once the assembling thread has taken all but {@link #DECODED_AHEAD} of the steps before it
     * ({@code q < taken + DECODED_AHEAD}). The step the assembling thread waits for always has its turn, whichever
     * thread decodes it.
     */
    private final Object turns = new Object();
    /** Remote steps the assembling thread has taken (guarded by {@link #turns}). */
    private long taken;
    /** Remote steps submitted (the assembling thread's). */
    private long submitted;

    private int next;
    /** Whether the service answers frame batches; false from its first refusal of one. */
    private volatile boolean batches = true;

    Prefetch(ArtifactLink client, int steps, int from, IntFunction<Job> jobs) {
        this(client, steps, from, jobs, DECODERS);
    }

    /** With {@code decoders} decoding threads instead of {@link #DECODERS} (for tests). */
    Prefetch(ArtifactLink client, int steps, int from, IntFunction<Job> jobs, int decoders) {
        this.client = client;
        this.steps = steps;
        this.jobs = jobs;
        this.next = from;
        this.decoding = Executors.newFixedThreadPool(decoders, daemons("outpost-decode-"));
    }

    /**
     * Daemon threads named {@code prefix0}, {@code prefix1}, ... {@code Thread.ofPlatform().name(prefix, 0)} counts
     * with a VarHandle, whose method handles are spun at run time (no AOT cache holds them): 6 classes, about 3 ms,
     * at an update's first download.
     */
    static ThreadFactory daemons(String prefix) {
        AtomicInteger next = new AtomicInteger();
        return task -> {
            Thread t = new Thread(task, prefix + next.getAndIncrement());
            t.setDaemon(true);
            return t;
        };
    }

    /**
     * What step {@code i}'s job made of its frame (for a remote step; {@code null} for a local one); its failure as it
     * was thrown, an I/O failure as its {@link IOException}.
     */
    byte[] take(int i) throws IOException {
        // Up to WINDOW frames ahead, however many local steps lie between them, a whole batch of consecutive remote
        // steps at a time (topping up one frame at a time would send batches of one).
        next = Math.max(next, i);
        while (next < steps && inflight.size() + BATCH <= WINDOW) {
            List<Integer> batch = new ArrayList<>(BATCH);
            List<Job> batchJobs = new ArrayList<>(BATCH);
            for (; next < steps && batch.size() < BATCH; next++) {
                Job job = jobs.apply(next);
                if (job != null) {
                    batch.add(next);
                    batchJobs.add(job);
                }
            }
            if (!batch.isEmpty()) {
                submit(batch, batchJobs);
            }
        }
        Future<byte[]> f = inflight.remove(i);
        if (f == null) {
            return null;
        }
        try {
            return result(f);
        } finally {
            advance();
        }
    }

    /** What a download's task made; its failure as it was thrown, an I/O failure as its {@link IOException}. */
    static <T> T result(Future<T> f) throws IOException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UncheckedIOException io) {
                throw io.getCause();
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new DeviceException(ExitCode.UNREACHABLE, "download failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException(ExitCode.UNREACHABLE, "interrupted while downloading", e);
        }
    }

    private void submit(List<Integer> batch, List<Job> batchJobs) {
        CompletableFuture<Frame[]> frames = CompletableFuture.supplyAsync(() -> download(batchJobs), downloads);
        for (int k = 0; k < batch.size(); k++) {
            Job job = batchJobs.get(k);
            int at = k;
            // Decoded in plan order (a decoding thread takes its tasks as they were submitted, here in step order),
            // at most DECODED_AHEAD of the steps being taken: a decoded chunk waits for the assembling thread,
            // and more of them alive at a young collection than its survivor space holds are promoted, which grows
            // the old generation (a full install of 2 GB peaked 92-99 MB with decoding unbounded, all frames
            // decoded as soon as they arrived).
            long turn = submitted++;
            inflight.put(
                    batch.get(k), CompletableFuture.supplyAsync(() -> decodeInTurn(job, frames, at, turn), decoding));
        }
    }

    /** One more step taken: the turn of the step {@link #DECODED_AHEAD} after it comes. */
    private void advance() {
        synchronized (turns) {
            taken++;
            turns.notifyAll();
        }
    }

    private static Frame take(Frame[] frames, int k) {
        Frame frame = frames[k];
        frames[k] = null;
        return frame;
    }

    /** The jobs' frames: in one request if there are several and the service answers batches, else one by one. */
    private Frame[] download(List<Job> batch) {
        if (batch.size() > 1 && batches) {
            StringBuilder list = new StringBuilder("v1/frames?list=");
            for (Job job : batch) {
                list.append(list.length() > 15 ? "," : "").append(job.frame());
            }
            try {
                Frame[] frames =
                        split(client.fetch(list.toString(), batch.size() * (FRAME_BYTES_MAX + 4)), batch.size());
                if (frames != null) {
                    return frames;
                }
                // An answer that does not split into the frames asked for: asked for one by one below.
            } catch (DeviceException e) {
                if (e.exitCode() != ExitCode.REFUSED) {
                    throw e;
                }
                // A service from before frame batches (or one that refuses this one): one frame to a request from
                // now on, which is also how a frame it does not hold is reported as before.
                batches = false;
            }
        }
        Frame[] frames = new Frame[batch.size()];
        for (int k = 0; k < frames.length; k++) {
            String frame = batch.get(k).frame();
            int colon = frame.indexOf(':');
            frames[k] = Frame.whole(client.fetch(
                    "v1/" + frame.substring(0, colon) + "s/" + frame.substring(colon + 1), FRAME_BYTES_MAX));
        }
        return frames;
    }

    /** {@code count} frames, each after its length (4 bytes, big-endian), or {@code null} if {@code body} is not. */
    static Frame[] split(byte[] body, int count) {
        Frame[] frames = new Frame[count];
        int at = 0;
        for (int k = 0; k < count; k++) {
            if (body.length - at < 4) {
                return null;
            }
            long length = (body[at] & 0xffL) << 24
                    | (body[at + 1] & 0xff) << 16
                    | (body[at + 2] & 0xff) << 8
                    | (body[at + 3] & 0xff);
            at += 4;
            if (length > FRAME_BYTES_MAX || length > body.length - at) {
                return null;
            }
            frames[k] = new Frame(body, at, (int) length);
            at += (int) length;
        }
        return at == body.length ? frames : null;
    }

    /**
     * Frame {@code at} of a batch, decoded once its {@code turn} comes (fewer than {@link #DECODED_AHEAD} remote steps
     * before it are still to be taken) and the batch has arrived; both waits end when the prefetch is closed.
     */
    private byte[] decodeInTurn(Job job, CompletableFuture<Frame[]> frames, int at, long turn) {
        Frame[] arrived;
        try {
            synchronized (turns) {
                while (turn >= taken + DECODED_AHEAD) {
                    turns.wait();
                }
            }
            arrived = frames.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("the download was stopped");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException re ? re : new CompletionException(e.getCause());
        }
        try {
            return job.decode(take(arrived, at), decoder.get());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        downloads.shutdownNow();
        decoding.shutdownNow();
        try {
            // A decode in progress ends within milliseconds; its decoder is freed after it.
            decoding.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (decoders) {
            decoders.forEach(StepDecoder::close);
            decoders.clear();
        }
    }
}
