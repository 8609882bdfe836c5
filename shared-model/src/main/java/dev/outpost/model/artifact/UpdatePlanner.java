package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
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

    /** The steps in target order and what they cost. */
    public record Plan(List<Step> steps) {
        public Plan {
            steps = List.copyOf(steps);
        }

        public long downloadBytes() {
            return steps.stream().mapToLong(Step::downloadBytes).sum();
        }

        public long count(Class<? extends Step> kind) {
            return steps.stream().filter(kind::isInstance).count();
        }
    }

    /**
     * For every target chunk that the held version lacks, the held chunks to use as its delta dictionary: those
     * around where the chunk would sit if the nearest reused chunks before and after it anchor the mapping (an
     * insertion shifts one of the two mappings and not the other). In target order; empty when nothing is held.
     */
    public static Map<Integer, int[]> references(Manifest held, Manifest target) {
        Map<Integer, int[]> refs = new LinkedHashMap<>();
        if (held == null || held.chunks().isEmpty()) {
            return refs;
        }
        long[] ho = held.offsets();
        long[] to = target.offsets();
        Map<Sha256, Integer> heldIndex = firstIndexes(held);
        int n = target.chunks().size();
        int[] heldOf = new int[n];
        for (int i = 0; i < n; i++) {
            heldOf[i] = heldIndex.getOrDefault(target.chunks().get(i).hash(), -1);
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
            int length = target.chunks().get(i).rawLength();
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
                int k = chunkAt(ho, start);
                for (; k < held.chunks().size() && ho[k] < start + length; k++) {
                    if (chosen.contains(k)) {
                        continue;
                    }
                    int size = held.chunks().get(k).rawLength();
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
     * smaller of the offered delta and the whole chunk. {@code held} is {@code null} on a first install, and
     * {@code deltas} when none are offered; a delta index for other manifests is refused, not ignored.
     */
    public static Plan plan(Manifest held, Manifest target, DeltaIndex deltas) {
        if (deltas != null) {
            if (held == null
                    || !deltas.fromManifest().equals(Sha256.digest(held.encode()))
                    || !deltas.toManifest().equals(Sha256.digest(target.encode()))) {
                throw new OutpostException(ErrorCode.ARTIFACT_INVALID, "the delta index is for other manifests");
            }
        }
        Map<Sha256, Integer> heldIndex = held == null ? Map.of() : firstIndexes(held);
        Map<Integer, DeltaIndex.Entry> offered = new HashMap<>();
        if (deltas != null) {
            for (DeltaIndex.Entry e : deltas.entries()) {
                checkEntry(e, held, target);
                offered.put(e.target(), e);
            }
        }
        Map<Sha256, Integer> produced = new HashMap<>();
        List<Step> steps = new ArrayList<>(target.chunks().size());
        for (int i = 0; i < target.chunks().size(); i++) {
            ChunkRef chunk = target.chunks().get(i);
            Integer h = heldIndex.get(chunk.hash());
            Integer earlier = produced.putIfAbsent(chunk.hash(), i);
            if (h != null) {
                steps.add(new Step.Reuse(i, h));
            } else if (earlier != null) {
                steps.add(new Step.Copy(i, earlier));
            } else {
                DeltaIndex.Entry d = offered.get(i);
                steps.add(
                        d != null && d.length() < chunk.storedLength()
                                ? new Step.Delta(i, d)
                                : new Step.Fetch(i, chunk.storedLength()));
            }
        }
        return new Plan(steps);
    }

    private static void checkEntry(DeltaIndex.Entry e, Manifest held, Manifest target) {
        boolean ok = e.target() >= 0 && e.target() < target.chunks().size();
        long bytes = 0;
        int[] refs = e.references();
        for (int k = 0; ok && k < refs.length; k++) {
            ok = refs[k] >= 0 && refs[k] < held.chunks().size() && (k == 0 || refs[k] > refs[k - 1]);
            bytes += ok ? held.chunks().get(refs[k]).rawLength() : 0;
        }
        if (!ok || bytes > REFERENCE_BYTES_MAX) {
            throw new OutpostException(
                    ErrorCode.ARTIFACT_INVALID, "delta index entry for chunk " + e.target() + " is out of range");
        }
    }

    private static Map<Sha256, Integer> firstIndexes(Manifest m) {
        Map<Sha256, Integer> index = new HashMap<>();
        for (int i = 0; i < m.chunks().size(); i++) {
            index.putIfAbsent(m.chunks().get(i).hash(), i);
        }
        return index;
    }

    private static int chunkAt(long[] offsets, long position) {
        int k = Arrays.binarySearch(offsets, 0, offsets.length - 1, position);
        return k >= 0 ? k : -k - 2;
    }
}
