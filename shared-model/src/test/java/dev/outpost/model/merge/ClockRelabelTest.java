package dev.outpost.model.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.outpost.model.PropertyRunner;
import dev.outpost.model.change.Change;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** Relabelling clocks in an order-keeping way commutes with merging: the re-stamp a device does on clock skew. */
class ClockRelabelTest {
    private static final Schema SCHEMA = SchemaLoader.farmExample();

    @Test
    void relabellingTheMergedRowsEqualsMergingTheRelabelledChanges() {
        PropertyRunner.forAll("clock relabel", ConvergenceTest::script, steps -> {
            List<Change> changes = ConvergenceTest.runAndCheck(steps);
            UnaryOperator<Hlc> map = orderKeeping(changes);
            List<Change> relabelled =
                    changes.stream().map(c -> ClockRelabel.change(c, map)).toList();
            Map<String, RowState> merged = fold(changes);
            Map<String, RowState> mergedRelabelled = fold(relabelled);
            assertEquals(merged.keySet(), mergedRelabelled.keySet());
            for (var e : merged.entrySet()) {
                RowState expected = ClockRelabel.row(e.getValue(), map);
                assertEquals(expected, mergedRelabelled.get(e.getKey()), e.getKey());
                e.getValue()
                        .fields()
                        .forEach((field, state) -> assertEquals(
                                RowView.valueOf(state),
                                RowView.valueOf(expected.field(field)),
                                "the visible value of " + e.getKey() + "." + field + " does not change"));
                assertEquals(
                        RowConflicts.isDeleted(SCHEMA.table(expected.table()), e.getValue()),
                        RowConflicts.isDeleted(SCHEMA.table(expected.table()), expected));
            }
            if (!changes.isEmpty()) {
                assertNotEquals(
                        changes.getFirst().clock(), relabelled.getFirst().clock(), "the map moved clocks");
            }
        });
    }

    /**
     * Every clock the changes carry, renumbered in order to one millisecond apart from a fixed start (each keeps its
     * device). Any clock the map was not built from fails the test, so nothing is relabelled by accident.
     */
    private static UnaryOperator<Hlc> orderKeeping(List<Change> changes) {
        TreeSet<Hlc> all = new TreeSet<>();
        for (Change c : changes) {
            all.add(c.clock());
            ClockRelabel.change(c, h -> {
                all.add(h);
                return h;
            });
        }
        Map<Hlc, Hlc> to = new HashMap<>();
        long ms = 1_000_000_000_000L;
        for (Hlc h : all) {
            to.put(h, new Hlc(ms++, 0, h.deviceId()));
        }
        return h -> {
            Hlc mapped = to.get(h);
            if (mapped == null) {
                throw new AssertionError("clock " + h + " is in no change");
            }
            return mapped;
        };
    }

    private static Map<String, RowState> fold(List<Change> changes) {
        Map<String, RowState> rows = new LinkedHashMap<>();
        for (Change c : changes) {
            String key = c.table() + "/" + c.rowId();
            RowState row = rows.getOrDefault(key, RowState.empty(c.table(), c.rowId(), c.scope()));
            rows.put(key, RowMerge.apply(SCHEMA.table(c.table()), row, c).row());
        }
        return rows;
    }
}
