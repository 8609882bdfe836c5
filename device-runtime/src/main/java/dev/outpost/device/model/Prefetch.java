package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.artifact.FastCdc;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.UpdatePlanner.Step;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Keeps the next {@link #WINDOW} downloads of a plan in flight (however far ahead they are) while the current step
 * is produced, so a link's round-trip time is paid once per window rather than once per chunk. Frames are still used strictly in plan order, and at most
 * {@link #WINDOW} of them (a few MB) are held at a time.
 */
final class Prefetch implements AutoCloseable {
    static final int WINDOW = 8;
    static final int THREADS = 4;
    static final int FRAME_BYTES_MAX = FastCdc.MAX_BYTES + FastCdc.MAX_BYTES / 8 + 1024;

    private final ArtifactLink client;
    private final Manifest target;
    private final List<Step> steps;
    private final ExecutorService pool = Executors.newFixedThreadPool(
            THREADS, Thread.ofPlatform().daemon().name("outpost-download-", 0).factory());
    private final Map<Integer, Future<byte[]>> inflight = new HashMap<>();
    private int next;

    Prefetch(ArtifactLink client, Manifest target, List<Step> steps, int from) {
        this.client = client;
        this.target = target;
        this.steps = steps;
        this.next = from;
    }

    /** The downloaded frame for step {@code i} (a chunk or a delta), or {@code null} for a local step. */
    byte[] frame(int i) {
        // Up to WINDOW downloads ahead, however many local steps lie between them.
        next = Math.max(next, i);
        while (next < steps.size() && inflight.size() < WINDOW) {
            String path = path(steps.get(next));
            if (path != null) {
                inflight.put(next, pool.submit(() -> client.fetch(path, FRAME_BYTES_MAX)));
            }
            next++;
        }
        Future<byte[]> f = inflight.remove(i);
        if (f == null) {
            return null;
        }
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new DeviceException(ExitCode.UNREACHABLE, "download failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException(ExitCode.UNREACHABLE, "interrupted while downloading", e);
        }
    }

    private String path(Step step) {
        // Not a pattern switch: see SlotAssembly.produce.
        if (step instanceof Step.Fetch f) {
            return SlotAssembly.chunkPath(target.chunk(f.target()));
        }
        if (step instanceof Step.Delta d) {
            return "v1/deltas/" + d.delta().hash().hex();
        }
        return null;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
