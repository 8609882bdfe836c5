package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides how a device gets from the manifest it holds to a target manifest, chunk by chunk; pure, so the service
 * (which computes deltas against {@link #references}) and the device (which picks {@link #plan}) agree by
 * construction.
 */
public final class UpdatePlanner {
    /** Reference bytes a delta may need in memory at once, on both sides. */
    public static final int REFERENCE_BYTES_MAX = 1024 * 1024;

    public static final int REFERENCE_CHUNKS_MAX = 8;

    /** A step not planned yet: all bits set would be a fetch with an argument, and a fetch has none. */
    private static final int UNPLANNED = -1;

    private UpdatePlanner() {}

    /** One way to produce a target chunk. */
    public sealed interface Step {
        int target();

        /** Bytes that cross the network for this step. */
        long downloadBytes();

        /** The chunk is in the held file already, at held chunk {@code held}. */
        record Reuse(int target, int held) implements Step {
            public long downloadBytes() {
                return 0;
            }
        }

        /** The same chunk was produced earlier in this update, at target chunk {@code earlier}. */
        record Copy(int target, int earlier) implements Step {
            public long downloadBytes() {
                return 0;
            }
        }

        /** Download the delta and decode it against the held reference chunks. */
        record Delta(int target, DeltaIndex.Entry delta) implements Step {
            public long downloadBytes() {
                return delta.length();
            }
        }

        /** Download the whole chunk frame. */
        record Fetch(int target, long storedLength) implements Step {
            public long downloadBytes() {
                return storedLength;
            }
        }
    }

    /**
     * The steps in target order and what they cost. Kept as one int a step (kind and argument), not as objects: a
     * 1 GB file is some 15,000 steps, planned on a device with a few MB of heap to spare. {@link #step} makes the
     * step object when it is asked for.
     */
    public static final class Plan {
        private static final int REUSE = 0;
        private static final int COPY = 1;
        private static final int DELTA = 2;
        private static final int FETCH = 3;
        /** The step class of each kind, by its number. */
        private static final List<Class<? extends Step>> KINDS =
                List.of(Step.Reuse.class, Step.Copy.class, Step.Delta.class, Step.Fetch.class);

        private static final int KIND_SHIFT = 30;
        private static final int ARGUMENT_MASK = (1 << KIND_SHIFT) - 1;

        private final Manifest target;
        private final DeltaIndex deltas;
        private final int[] steps;
        private final long downloadBytes;

        private Plan(Manifest target, DeltaIndex deltas, int[] steps) {
            this.target = target;
            this.deltas = deltas;
            this.steps = steps;
            long bytes = 0;
            for (int i = 0; i < steps.length; i++) {
                bytes += switch (steps[i] >>> KIND_SHIFT) {
                    case DELTA -> deltas.length(steps[i] & ARGUMENT_MASK);
                    case FETCH -> target.storedLength(i);
                    default -> 0;
                };
            }
            this.downloadBytes = bytes;
        }

        public int size() {
            return steps.length;
        }

        public Step step(int i) {
            int argument = steps[i] & ARGUMENT_MASK;
            return switch (steps[i] >>> KIND_SHIFT) {
                case REUSE -> new Step.Reuse(i, argument);
                case COPY -> new Step.Copy(i, argument);
                case DELTA -> new Step.Delta(i, deltas.entry(argument));
                default -> new Step.Fetch(i, target.storedLength(i));
            };
        }

        /** The steps as a read-only view. */
        public List<Step> steps() {
            return new IndexedList<>(steps.length, this::step);
        }

        public long downloadBytes() {
            return downloadBytes;
        }

        /** Steps that are a {@code kind}: one of the four, or {@link Step} itself for all of them. */
        public long count(Class<? extends Step> kind) {
            long n = 0;
            for (int s : steps) {
                n += kind.isAssignableFrom(KINDS.get(s >>> KIND_SHIFT)) ? 1 : 0;
            }
            return n;
        }

        @Override
        public String toString() {
            return "Plan[" + steps.length + " steps: " + count(Step.Reuse.class) + " reuse, " + count(Step.Copy.class)
                    + " copy, " + count(Step.Delta.class) + " delta, " + count(Step.Fetch.class) + " fetch; "
                    + downloadBytes + " bytes]";
        }
    }

    /**
     * For every target chunk that the held version lacks, the held chunks to use as its delta dictionary: those
     * around where the chunk would sit if the nearest reused chunks before and after it anchor the mapping (an
     * insertion shifts one of the two mappings and not the other). In target order; empty when nothing is held.
     */
    public static Map<Integer, int[]> references(Manifest held, Manifest target) {
        Map<Integer, int[]> refs = new LinkedHashMap<>();
        if (held == null || held.chunkCount() == 0) {
            return refs;
        }
        long[] ho = held.offsets();
        long[] to = target.offsets();
        Manifest.Index heldIndex = held.index();
        int n = target.chunkCount();
        int[] heldOf = new int[n];
        for (int i = 0; i < n; i++) {
            heldOf[i] = heldIndex.firstOf(target, i);
        }
        int[] prev = new int[n];
        for (int i = 0, last = -1; i < n; i++) {
            prev[i] = last;
            if (heldOf[i] >= 0) {
                last = i;
            }
        }
        int[] next = new int[n];
        for (int i = n - 1, last = -1; i >= 0; i--) {
            next[i] = last;
            if (heldOf[i] >= 0) {
                last = i;
            }
        }
        for (int i = 0; i < n; i++) {
            if (heldOf[i] >= 0) {
                continue;
            }
            int length = target.rawLength(i);
            List<Long> positions = new ArrayList<>(2);
            if (prev[i] >= 0) {
                positions.add(ho[heldOf[prev[i]]] + (to[i] - to[prev[i]]));
            }
            if (next[i] >= 0) {
                positions.add(ho[heldOf[next[i]]] - (to[next[i]] - to[i]));
            }
            if (positions.isEmpty()) {
                positions.add(to[i] * held.size() / Math.max(1, target.size()));
            }
            Set<Integer> chosen = new LinkedHashSet<>();
            long bytes = 0;
            outer:
            for (long p : positions) {
                long start = Math.clamp(p, 0, held.size() - 1);
                int k = Manifest.chunkAt(ho, start);
                for (; k < held.chunkCount() && ho[k] < start + length; k++) {
                    if (chosen.contains(k)) {
                        continue;
                    }
                    int size = held.rawLength(k);
                    if (chosen.size() == REFERENCE_CHUNKS_MAX || bytes + size > REFERENCE_BYTES_MAX) {
                        break outer;
                    }
                    chosen.add(k);
                    bytes += size;
                }
            }
            if (!chosen.isEmpty()) {
                int[] sorted =
                        chosen.stream().mapToInt(Integer::intValue).sorted().toArray();
                refs.put(i, sorted);
            }
        }
        return refs;
    }

    /**
     * The cheapest way to each target chunk: reuse what is held, copy what this update produced already, else the
     * smallest of the offered deltas and the whole chunk. {@code held} is {@code null} on a first install, and
     * {@code deltas} when none are offered; a delta index for other manifests is refused, not ignored.
     */
    public static Plan plan(Manifest held, Manifest target, DeltaIndex deltas) {
        if (deltas != null) {
            if (held == null
                    || !deltas.fromManifest().equals(held.digest())
                    || !deltas.toManifest().equals(target.digest())) {
                throw new OutpostException(ErrorCode.ARTIFACT_INVALID, "the delta index is for other manifests");
            }
        }
        // The offered deltas by target chunk, as (target, entry) pairs in one long each, sorted: read in step with
        // the steps below. Where several entries name one chunk (a chunk-local and a tensor delta), the smallest
        // counts.
        long[] offered = new long[deltas == null ? 0 : deltas.size()];
        for (int k = 0; k < offered.length; k++) {
            checkEntry(deltas.entry(k), held, target);
            offered[k] = (long) deltas.target(k) << 32 | k;
        }
        Arrays.sort(offered);
        // Two passes, one index at a time (a 4 GB model's is 1 MB): first what the held version has, then, among the
        // chunks this update produces, whether one was produced earlier.
        int[] steps = new int[target.chunkCount()];
        Arrays.fill(steps, UNPLANNED);
        if (held != null) {
            Manifest.Index heldIndex = held.index();
            for (int i = 0; i < steps.length; i++) {
                int h = heldIndex.firstOf(target, i);
                if (h >= 0) {
                    steps[i] = Plan.REUSE << Plan.KIND_SHIFT | h;
                }
            }
        }
        Manifest.Index produced = target.index(i -> steps[i] == UNPLANNED);
        int next = 0; // the first offered delta for a chunk not yet passed
        for (int i = 0; i < steps.length; i++) {
            int d = -1; // the smallest offered for chunk i (the first of equals)
            for (; next < offered.length && (int) (offered[next] >>> 32) <= i; next++) {
                int k = (int) offered[next];
                if ((int) (offered[next] >>> 32) == i && (d < 0 || deltas.length(k) < deltas.length(d))) {
                    d = k;
                }
            }
            if (steps[i] != UNPLANNED) {
                continue;
            }
            int first = produced.firstOf(target, i);
            if (first < i) {
                steps[i] = Plan.COPY << Plan.KIND_SHIFT | first;
            } else if (d >= 0 && deltas.length(d) < target.storedLength(i)) {
                steps[i] = Plan.DELTA << Plan.KIND_SHIFT | d;
            } else {
                steps[i] = Plan.FETCH << Plan.KIND_SHIFT;
            }
        }
        return new Plan(target, deltas, steps);
    }

    private static void checkEntry(DeltaIndex.Entry e, Manifest held, Manifest target) {
        boolean ok = e.target() >= 0 && e.target() < target.chunkCount();
        long bytes = 0;
        int[] refs = e.references();
        for (int k = 0; ok && k < refs.length; k++) {
            ok = refs[k] >= 0 && refs[k] < held.chunkCount() && (k == 0 || refs[k] > refs[k - 1]);
            bytes += ok ? held.rawLength(refs[k]) : 0;
        }
        if (!ok || bytes > REFERENCE_BYTES_MAX) {
            throw new OutpostException(
                    ErrorCode.ARTIFACT_INVALID, "delta index entry for chunk " + e.target() + " is out of range");
        }
    }
}
