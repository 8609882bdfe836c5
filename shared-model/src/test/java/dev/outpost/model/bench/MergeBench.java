package dev.outpost.model.bench;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bench/run merge}: field changes merged per second on one core through {@link RowMerge#apply} (every
 * policy, as a day of farm edits mixes them), against the naive baseline of a last-writer-wins map (compare clocks,
 * replace the value) over the same changes in the same run.
 */
public final class MergeBench {
    private MergeBench() {}

    public static void main(String[] args) {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3.0;
        Schema schema = SchemaLoader.farmExample();
        List<Change> changes = new ArrayList<>();
        for (int d = 0; d < 4; d++) {
            new FarmDay(schema, 7 + d, "officer-" + d).edits(5_000).forEach(e -> changes.addAll(e.changes()));
        }
        // Warm up both, then measure each for the same time.
        for (int i = 0; i < 3; i++) {
            mergeAll(schema, changes);
            lwwMapAll(changes);
        }
        double merges = rate(() -> mergeAll(schema, changes), changes.size(), seconds);
        double baseline = rate(() -> lwwMapAll(changes), changes.size(), seconds);
        System.out.printf("changes=%d policies=lww,counter,set,max,review%n", changes.size());
        System.out.printf(
                "RESULT name=merge merges_per_s=%.0f baseline_per_s=%.0f ratio=%.3f%n",
                merges, baseline, merges / baseline);
    }

    private static int mergeAll(Schema schema, List<Change> changes) {
        Map<String, RowState> rows = new HashMap<>();
        for (Change c : changes) {
            String key = c.table() + '/' + c.rowId();
            rows.put(
                    key,
                    RowMerge.apply(schema.table(c.table()), rows.get(key), c).row());
        }
        return rows.size();
    }

    private record Cell(Object value, Hlc clock) {}

    private static int lwwMapAll(List<Change> changes) {
        Map<String, Cell> cells = new HashMap<>();
        for (Change c : changes) {
            Object v = c.op() instanceof Op.Assign a ? a.value() : c.op();
            cells.merge(
                    c.table() + '/' + c.rowId() + '/' + c.field(),
                    new Cell(v, c.clock()),
                    (x, y) -> y.clock().isAfter(x.clock()) ? y : x);
        }
        return cells.size();
    }

    private static double rate(Runnable pass, int perPass, double seconds) {
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        long start = System.nanoTime();
        long done = 0;
        while (System.nanoTime() < deadline) {
            pass.run();
            done += perPass;
        }
        return done / ((System.nanoTime() - start) / 1e9);
    }
}
