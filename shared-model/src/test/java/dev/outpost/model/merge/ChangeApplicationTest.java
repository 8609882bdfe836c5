package dev.outpost.model.merge;

import static dev.outpost.model.change.FieldValue.decimal;
import static dev.outpost.model.change.FieldValue.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The one piece that applies a batch (service) or a page (device) to the rows it touches. */
class ChangeApplicationTest {
    private final Schema schema = SchemaLoader.farmExample();
    private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);

    @Test
    void eachRowIsReadOnceAndChangesWithoutEffectAreNotCounted() {
        Replica a = new Replica("device-a", schema, wall::get);
        Change name = a.put("farmer", "f1", "name", text("Wanjiru"));
        Change village = a.put("farmer", "f1", "village", text("Njoro"));
        Map<String, Integer> reads = new HashMap<>();
        var result = ChangeApplication.apply(schema, List.of(name, village, name), (t, id) -> {
            reads.merge(t + "/" + id, 1, Integer::sum);
            return Optional.empty();
        });
        assertEquals(Map.of("farmer/f1", 1), reads);
        assertEquals(List.of(name, village), result.effective(), "the repeated change changed nothing");
        ChangeApplication.Touched f1 = result.rows().get("farmer/f1");
        assertFalse(f1.stored());
        assertTrue(f1.changed());
        assertEquals(a.row("farmer", "f1"), f1.after());
    }

    @Test
    void aChangeToARowOfAnotherScopeIsNotAppliedAndIsReported() {
        Replica a = new Replica("device-a", schema, wall::get);
        Change c = a.put("farmer", "f1", "name", text("Kip"));
        RowState elsewhere = RowState.empty("farmer", "f1", "molo");
        var result = ChangeApplication.apply(schema, List.of(c), (t, id) -> Optional.of(elsewhere));
        assertEquals(
                List.of(new ChangeApplication.ScopeMismatch(0, "farmer/f1", "molo", Replica.SCOPE)),
                result.mismatches());
        assertTrue(result.effective().isEmpty());
        assertFalse(result.rows().get("farmer/f1").changed());
    }

    @Test
    void conflictsOpenedAndClosedArePerRow() {
        Replica a = new Replica("device-a", schema, wall::get);
        Replica b = new Replica("device-b", schema, wall::get);
        Change first = a.put("crop_record", "c1", "yield_kg", decimal("1200"));
        wall.addAndGet(5);
        Change second = b.put("crop_record", "c1", "yield_kg", decimal("1350"));
        var table = schema.table("crop_record");
        var opening = ChangeApplication.apply(schema, List.of(first, second), (t, id) -> Optional.empty());
        List<Conflict> opened =
                opening.rows().get("crop_record/c1").conflicts(table).opened();
        assertEquals(1, opened.size());
        assertEquals(Conflict.Kind.CONCURRENT_WRITES, opened.getFirst().kind());

        RowState withConflict = opening.rows().get("crop_record/c1").after();
        Replica admin = new Replica("server", schema, wall::get);
        admin.apply(first);
        admin.apply(second);
        wall.addAndGet(5);
        Change resolution = admin.resolve("crop_record", "c1", "yield_kg", decimal("1300"));
        var closing = ChangeApplication.apply(schema, List.of(resolution), (t, id) -> Optional.of(withConflict));
        ChangeApplication.Touched c1 = closing.rows().get("crop_record/c1");
        assertTrue(c1.stored());
        assertEquals(opened, c1.conflicts(table).closed());
        assertTrue(c1.conflicts(table).opened().isEmpty());
        assertEquals(0, c1.conflicts(table).open());
    }

    /** Over random edits of three replicas, the result is what applying each change in turn gives. */
    @Test
    void theResultIsWhatApplyingEachChangeInTurnGives() {
        for (long seed = 1; seed <= 200; seed++) {
            Random random = new Random(seed);
            List<Replica> replicas = List.of(
                    new Replica("device-a", schema, wall::get),
                    new Replica("device-b", schema, wall::get),
                    new Replica("device-c", schema, wall::get));
            List<Change> all = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                wall.addAndGet(random.nextInt(3));
                Replica r = replicas.get(random.nextInt(3));
                String id = "c" + random.nextInt(4);
                all.add(
                        switch (random.nextInt(5)) {
                            case 0 -> r.put("crop_record", id, "notes", text("n" + i));
                            case 1 -> r.add("crop_record", id, "bags_harvested", 1 + random.nextInt(3));
                            case 2 -> r.tag("crop_record", id, "pests", "p" + random.nextInt(3));
                            case 3 ->
                                r.put("crop_record", id, "yield_kg", decimal(Integer.toString(random.nextInt(2000))));
                            default -> r.put("crop_record", id, "variety", text("v" + random.nextInt(3)));
                        });
                if (random.nextInt(4) == 0) {
                    Replica from = replicas.get(random.nextInt(3));
                    replicas.get(random.nextInt(3)).receiveAll(from);
                }
            }
            // Half the changes already stored, the rest applied as one batch, some of them twice.
            Replica reference = new Replica("reference", schema, wall::get);
            int split = all.size() / 2;
            all.subList(0, split).forEach(reference::apply);
            Map<String, RowState> stored = new HashMap<>(reference.rows);
            List<Change> batch = new ArrayList<>(all.subList(split, all.size()));
            batch.addAll(all.subList(split, split + 5));
            var result =
                    ChangeApplication.apply(schema, batch, (t, id) -> Optional.ofNullable(stored.get(t + "/" + id)));
            List<Change> effective = new ArrayList<>();
            for (Change c : batch) {
                if (reference.apply(c)) {
                    effective.add(c);
                }
            }
            assertEquals(effective, result.effective(), "seed " + seed);
            for (var touched : result.rows().entrySet()) {
                assertEquals(
                        reference.rows.get(touched.getKey()),
                        touched.getValue().after(),
                        "seed " + seed + ", " + touched.getKey());
            }
        }
    }
}
