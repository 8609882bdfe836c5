package dev.outpost.model.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.PropertyRunner;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.merge.FieldState.MultiValue;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.MergePolicy;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.schema.Table;
import dev.outpost.model.wire.ChangeBatch;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Random edit scripts on 3 to 5 replicas of the farm schema, exchanging changes with loss, duplication, reordering
 * and partial delivery, then a full exchange. Every replica must end identical, and the result must match what the
 * edits imply (an oracle computed from the edit log alone, not from the merge code).
 */
class ConvergenceTest {
    private static final Schema SCHEMA = SchemaLoader.farmExample();
    private static final long START_MS = 1_763_000_000_000L;

    /** Rows the scripts contend on: few, so that most edits collide. */
    private static final List<String[]> ROWS = List.of(
            new String[] {"farmer", "f1"},
            new String[] {"farmer", "f2"},
            new String[] {"plot", "p1"},
            new String[] {"crop_record", "c1"},
            new String[] {"crop_record", "c2"});

    private static final List<String> PESTS = List.of("aphids", "stalk borer", "fall armyworm");

    sealed interface Step {
        int replica();
    }

    record Put(int replica, String table, String row, String field, FieldValue value) implements Step {}

    record Add(int replica, String row, long delta) implements Step {}

    record Tag(int replica, String row, String element) implements Step {}

    record Untag(int replica, String row, String element) implements Step {}

    record Delete(int replica, String table, String row) implements Step {}

    record Restore(int replica, String table, String row) implements Step {}

    record Resolve(int replica, String row, FieldValue value) implements Step {}

    record Tick(int replica, long ms) implements Step {}

    record Deliver(int replica, int to, long seed) implements Step {}

    /** The replica drops its tombstones below the causally stable time (RowGc). */
    record Collect(int replica) implements Step {}

    @Test
    void replicasConvergeAndNothingWrittenIsLostSilently() {
        PropertyRunner.forAll("convergence", ConvergenceTest::script, steps -> runAndCheck(steps));
    }

    /**
     * With tombstones collected on the way ({@link RowGc}), at random points on random replicas, below the time before
     * which every change is known everywhere: the same convergence and the same oracle. As on the service, a replica
     * never applies a change it has applied already (devices pull from a cursor, the service answers a retried batch
     * id from what it did), so duplicates are not delivered here.
     */
    @Test
    void replicasConvergeWithTombstonesCollectedOnTheWay() {
        long before = COLLECTED_ON_THE_WAY.get();
        PropertyRunner.forAll("convergence with collection", ConvergenceTest::scriptWithCollection, steps -> {
            runAndCheck(steps);
        });
        assertTrue(
                COLLECTED_ON_THE_WAY.get() > before,
                "some runs collected tombstones before the end (not a vacuous run)");
    }

    /** Tombstones collected by {@link Collect} steps, before the final exchange. */
    private static final AtomicLong COLLECTED_ON_THE_WAY = new AtomicLong();

    static List<Step> scriptWithCollection(Random r) {
        List<Step> steps = script(r);
        int replicas = steps.stream().mapToInt(Step::replica).max().orElse(2) + 1;
        int collections = 1 + r.nextInt(6);
        for (int i = 0; i < collections; i++) {
            steps.add(r.nextInt(steps.size() + 1), new Collect(r.nextInt(replicas)));
        }
        // And once, somewhere, the replicas exchange what they know, four rounds of all to all (a delivery loses each
        // change with 30%), and one collects: with only the random points above, the changes known everywhere rarely
        // reached any tombstone (in 5 runs of 100 none of a run's 1,000 scripts collected one before the end).
        List<Step> settle = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            for (int from = 0; from < replicas; from++) {
                for (int to = 0; to < replicas; to++) {
                    if (from != to) {
                        settle.add(new Deliver(from, to, r.nextLong()));
                    }
                }
            }
        }
        settle.add(new Collect(r.nextInt(replicas)));
        steps.addAll(r.nextInt(steps.size() + 1), settle);
        return steps;
    }

    static List<Step> script(Random r) {
        int replicas = 3 + r.nextInt(3);
        int length = 10 + r.nextInt(70);
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < length; i++) {
            int who = r.nextInt(replicas);
            int kind = r.nextInt(100);
            String[] row = ROWS.get(r.nextInt(ROWS.size()));
            String crop = "c" + (1 + r.nextInt(2));
            if (kind < 30) {
                steps.add(randomPut(r, who, row));
            } else if (kind < 40) {
                steps.add(new Add(who, crop, r.nextInt(21) - 5));
            } else if (kind < 48) {
                steps.add(new Tag(who, crop, PESTS.get(r.nextInt(PESTS.size()))));
            } else if (kind < 54) {
                steps.add(new Untag(who, crop, PESTS.get(r.nextInt(PESTS.size()))));
            } else if (kind < 58) {
                steps.add(new Delete(who, row[0], row[1]));
            } else if (kind < 60) {
                steps.add(new Restore(who, row[0], row[1]));
            } else if (kind < 63) {
                steps.add(new Resolve(who, crop, new FieldValue.Decimal(BigDecimal.valueOf(r.nextInt(2000)))));
            } else if (kind < 75) {
                long[] choices = {0, 1, 7, -2_000, 1 + r.nextInt(5_000)};
                steps.add(new Tick(who, choices[r.nextInt(choices.length)]));
            } else {
                steps.add(new Deliver(who, r.nextInt(replicas), r.nextLong()));
            }
        }
        // Make sure the largest replica index is used, so shrinking cannot go below three replicas by accident.
        steps.add(new Tick(replicas - 1, 0));
        return steps;
    }

    private static Step randomPut(Random r, int who, String[] row) {
        Table table = SCHEMA.table(row[0]);
        List<Column> assignable = table.columns().values().stream()
                .filter(c -> c.merge() != MergePolicy.COUNTER && c.merge() != MergePolicy.SET)
                .toList();
        Column c = assignable.get(r.nextInt(assignable.size()));
        FieldValue v = switch (c.type()) {
            case INT -> new FieldValue.Int(r.nextInt(8));
            case DECIMAL -> new FieldValue.Decimal(BigDecimal.valueOf(r.nextInt(5000), 1));
            case DATE -> new FieldValue.Date(java.time.LocalDate.of(2026, 1 + r.nextInt(12), 1 + r.nextInt(28)));
            case REF -> new FieldValue.Text(c.refTable().charAt(0) + "" + (1 + r.nextInt(2)));
            default -> r.nextInt(10) == 0 ? FieldValue.NULL : new FieldValue.Text("v" + r.nextInt(20));
        };
        return new Put(who, row[0], row[1], c.name(), v);
    }

    @Test
    void everyScriptsChangesRoundTripExactlyThroughBothWireFormats() {
        WireCodec codec = new WireCodec(SCHEMA, WireLimits.DEFAULT);
        PropertyRunner.forAll("wire round trip", ConvergenceTest::script, steps -> {
            ChangeBatch batch = new ChangeBatch("b", runAndCheck(steps));
            for (WireFormat format : WireFormat.values()) {
                assertEquals(batch, codec.decode(codec.encode(batch, format), format), format + " round trip");
            }
        });
    }

    /** Runs a script, checks convergence and the oracle, and returns every change the replicas made. */
    static List<Change> runAndCheck(List<Step> steps) {
        int replicaCount = Math.max(
                3,
                steps.stream()
                                .mapToInt(s -> Math.max(s.replica(), s instanceof Deliver d ? d.to() : 0))
                                .max()
                                .orElse(0)
                        + 1);
        List<AtomicLong> walls = new ArrayList<>();
        List<Replica> replicas = new ArrayList<>();
        for (int i = 0; i < replicaCount; i++) {
            AtomicLong wall = new AtomicLong(START_MS);
            walls.add(wall);
            replicas.add(new Replica("dev-" + i, SCHEMA, wall::get));
        }
        Map<String, Long> counterOracle = new HashMap<>();
        boolean collecting = steps.stream().anyMatch(s -> s instanceof Collect);
        for (Step s : steps) {
            Replica me = replicas.get(s.replica());
            switch (s) {
                case Put p -> {
                    if (!me.deleted(p.table(), p.row())) {
                        me.put(p.table(), p.row(), p.field(), p.value());
                    }
                }
                case Add a -> {
                    if (!me.deleted("crop_record", a.row())) {
                        me.add("crop_record", a.row(), "bags_harvested", a.delta());
                        counterOracle.merge(a.row(), a.delta(), Long::sum);
                    }
                }
                case Tag t -> {
                    if (!me.deleted("crop_record", t.row())) {
                        me.tag("crop_record", t.row(), "pests", t.element());
                    }
                }
                case Untag u -> {
                    if (!me.deleted("crop_record", u.row())) {
                        me.untag("crop_record", u.row(), "pests", u.element());
                    }
                }
                case Delete d -> {
                    if (me.rows.containsKey(d.table() + "/" + d.row()) && !me.deleted(d.table(), d.row())) {
                        me.delete(d.table(), d.row());
                    }
                }
                case Restore r -> {
                    if (me.deleted(r.table(), r.row())) {
                        me.restore(r.table(), r.row());
                    }
                }
                case Resolve r -> {
                    if (!me.deleted("crop_record", r.row())) {
                        me.resolve("crop_record", r.row(), "yield_kg", r.value());
                    }
                }
                case Tick t -> walls.get(t.replica()).addAndGet(t.ms());
                case Deliver d -> deliver(me, replicas.get(d.to()), new Random(d.seed()), collecting);
                case Collect c -> {
                    long held = me.rows.values().stream()
                            .mapToLong(RowGc::tombstones)
                            .sum();
                    collect(me, stableMs(replicas));
                    COLLECTED_ON_THE_WAY.addAndGet(held
                            - me.rows.values().stream()
                                    .mapToLong(RowGc::tombstones)
                                    .sum());
                }
            }
        }
        checkJoinLaws(replicas);

        Set<Change> all = new LinkedHashSet<>();
        replicas.forEach(r -> all.addAll(r.known));
        Random shuffle = new Random(steps.size());
        for (Replica r : replicas) {
            List<Change> copy = new ArrayList<>(all);
            copy.addAll(copy.subList(0, copy.size() / 3)); // duplicates
            Collections.shuffle(copy, shuffle);
            for (Change c : copy) {
                if (!collecting || !r.known.contains(c)) {
                    r.apply(c);
                }
            }
        }
        if (collecting) {
            // Everything is known everywhere now: every tombstone is stable, on every replica alike.
            long everything = stableMs(replicas);
            replicas.forEach(r -> collect(r, everything));
            for (RowState row : replicas.getFirst().rows.values()) {
                assertEquals(0, RowGc.tombstones(row), "every tombstone is collected once everything is known");
            }
        }

        Replica first = replicas.getFirst();
        for (Replica r : replicas) {
            assertEquals(first.rows, r.rows, "replica " + r.deviceId + " differs from " + first.deviceId);
        }
        checkAgainstOracle(first, List.copyOf(all), counterOracle);
        RowStateCodec stored = new RowStateCodec(SCHEMA);
        for (RowState row : first.rows.values()) {
            assertEquals(row, stored.decode(row.table(), row.id(), row.scope(), stored.encode(row)), "stored form");
            assertEquals(
                    row,
                    stored.decode(row.table(), row.id(), row.scope(), stored.encodeBinary(row)),
                    "binary stored form");
            byte[] json = stored.encode(row).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            assertEquals(row, stored.decode(row.table(), row.id(), row.scope(), json), "JSON stored form as bytes");
        }
        return List.copyOf(all);
    }

    /**
     * The time before which every change any replica made is known by every replica (causal stability): a tombstone
     * stamped before it guards against nothing that can still arrive.
     */
    private static long stableMs(List<Replica> replicas) {
        Set<Change> all = new LinkedHashSet<>();
        replicas.forEach(r -> all.addAll(r.known));
        long stable = Long.MAX_VALUE;
        for (Change c : all) {
            for (Replica r : replicas) {
                if (!r.known.contains(c)) {
                    stable = Math.min(stable, c.clock().physicalMs());
                }
            }
        }
        return stable;
    }

    private static void collect(Replica r, long stableMs) {
        r.rows.replaceAll((key, row) -> RowGc.collect(row, stableMs));
    }

    /** Lossy, duplicating (unless {@code once}: no change applied twice), reordering delivery of what it knows. */
    private static void deliver(Replica from, Replica to, Random r, boolean once) {
        List<Change> sent = new ArrayList<>();
        for (Change c : from.known) {
            if (once && to.known.contains(c)) {
                continue;
            }
            int roll = r.nextInt(100);
            if (roll < 30) {
                continue; // lost
            }
            sent.add(c);
            if (roll > 85 && !once) {
                sent.add(c); // duplicated
            }
        }
        Collections.shuffle(sent, r);
        sent.forEach(to::apply);
    }

    private static void checkJoinLaws(List<Replica> replicas) {
        Map<String, List<RowState>> byRow = new TreeMap<>();
        for (Replica r : replicas) {
            r.rows.forEach(
                    (k, v) -> byRow.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
        }
        for (List<RowState> states : byRow.values()) {
            Table t = SCHEMA.table(states.getFirst().table());
            for (RowState a : states) {
                assertEquals(a, RowMerge.join(t, a, a), "join is not idempotent");
                for (RowState b : states) {
                    assertEquals(RowMerge.join(t, a, b), RowMerge.join(t, b, a), "join is not commutative");
                }
            }
            if (states.size() >= 3) {
                RowState a = states.get(0), b = states.get(1), c = states.get(2);
                assertEquals(
                        RowMerge.join(t, RowMerge.join(t, a, b), c),
                        RowMerge.join(t, a, RowMerge.join(t, b, c)),
                        "join is not associative");
            }
        }
    }

    private static void checkAgainstOracle(Replica r, List<Change> all, Map<String, Long> counterOracle) {
        Map<String, List<Change>> byRow = new TreeMap<>();
        for (Change c : all) {
            byRow.computeIfAbsent(c.table() + "/" + c.rowId(), k -> new ArrayList<>())
                    .add(c);
        }
        for (var entry : byRow.entrySet()) {
            List<Change> changes = entry.getValue();
            String tableName = changes.getFirst().table();
            String id = changes.getFirst().rowId();
            Table table = SCHEMA.table(tableName);
            RowState row = r.row(tableName, id);
            String where = entry.getKey();

            if (tableName.equals("crop_record")) {
                long expected = counterOracle.getOrDefault(id, 0L);
                FieldValue shown = r.view(tableName, id, "bags_harvested");
                if (expected != 0 || !(shown instanceof FieldValue.Null)) {
                    assertEquals(new FieldValue.Int(expected), shown, where + ": counter is not the sum of increments");
                }
                assertEquals(expectedSet(changes), elementsOf(row), where + ": set differs from add-wins semantics");
            }
            for (Column column : table.columns().values()) {
                List<Change> assigns = changes.stream()
                        .filter(c -> column.name().equals(c.field()) && c.op() instanceof Op.Assign)
                        .toList();
                if (assigns.isEmpty()) {
                    continue;
                }
                switch (column.merge()) {
                    case LWW -> {
                        Change last = assigns.stream()
                                .max((x, y) -> x.clock().compareTo(y.clock()))
                                .orElseThrow();
                        assertEquals(
                                ((Op.Assign) last.op()).value(),
                                r.view(tableName, id, column.name()),
                                where + "." + column.name());
                    }
                    case MAX -> {
                        FieldValue max = assigns.stream()
                                .map(c -> ((Op.Assign) c.op()).value())
                                .max(FieldValue::compareTo)
                                .orElseThrow();
                        assertEquals(max, r.view(tableName, id, column.name()), where + "." + column.name() + " max");
                    }
                    case REVIEW -> checkReview(r, table, row, column.name(), assigns, where);
                    default -> {}
                }
            }
            checkDeletes(r, table, row, changes, where);
        }
    }

    /** Every review write not explicitly replaced is still live; more than one live value is a listed conflict. */
    private static void checkReview(
            Replica r, Table table, RowState row, String field, List<Change> assigns, String where) {
        Set<Hlc> replaced = new HashSet<>();
        assigns.forEach(c -> replaced.addAll(((Op.Assign) c.op()).replaces()));
        Map<Hlc, FieldValue> expected = new TreeMap<>();
        for (Change c : assigns) {
            if (!replaced.contains(c.clock())) {
                expected.put(c.clock(), ((Op.Assign) c.op()).value());
            }
        }
        MultiValue mv = (MultiValue) row.field(field);
        assertEquals(expected, mv.live(), where + "." + field + ": a review value was lost or resurrected");
        if (expected.size() > 1) {
            assertTrue(
                    RowConflicts.of(table, row).stream()
                            .anyMatch(c ->
                                    field.equals(c.field()) && new TreeSet<>(c.clocks()).equals(expected.keySet())),
                    where + "." + field + ": overwritten values missing from the conflict record");
        }
    }

    private static Set<String> expectedSet(List<Change> changes) {
        Map<String, Set<Hlc>> adds = new HashMap<>();
        Map<String, Set<Hlc>> removed = new HashMap<>();
        for (Change c : changes) {
            if (c.op() instanceof Op.SetAdd a) {
                adds.computeIfAbsent(a.element(), k -> new HashSet<>()).add(c.clock());
            } else if (c.op() instanceof Op.SetRemove rm) {
                removed.computeIfAbsent(rm.element(), k -> new HashSet<>()).addAll(rm.observed());
            }
        }
        Set<String> out = new TreeSet<>();
        adds.forEach((e, tags) -> {
            Set<Hlc> live = new HashSet<>(tags);
            live.removeAll(removed.getOrDefault(e, Set.of()));
            if (!live.isEmpty()) {
                out.add(e);
            }
        });
        return out;
    }

    private static Set<String> elementsOf(RowState row) {
        return row.field("pests") instanceof FieldState.OrSet s ? s.elements() : Set.of();
    }

    /**
     * Deleted exactly when the latest delete is not undone; every write whose effect is still visible and that no
     * delete saw stays in a conflict.
     */
    private static void checkDeletes(Replica r, Table table, RowState row, List<Change> changes, String where) {
        Hlc lastDelete = null;
        Hlc lastRestored = null;
        Map<String, Set<Hlc>> seen = new HashMap<>();
        for (Change c : changes) {
            if (c.op() instanceof Op.Delete d) {
                lastDelete = Hlc.max(lastDelete, c.clock());
                d.seen()
                        .forEach((f, tags) ->
                                seen.computeIfAbsent(f, k -> new HashSet<>()).addAll(tags));
            } else if (c.op() instanceof Op.Restore rs) {
                lastRestored = Hlc.max(lastRestored, rs.tombstone());
            }
        }
        boolean deleted = lastDelete != null && (lastRestored == null || lastDelete.isAfter(lastRestored));
        assertEquals(deleted, r.deleted(table.name(), row.id()), where + ": deleted flag");
        if (!deleted) {
            return;
        }
        for (Change c : changes) {
            FieldState state = c.field() == null ? null : row.field(c.field());
            boolean visible = state != null && state.tags().contains(c.clock());
            if (visible && !seen.getOrDefault(c.field(), Set.of()).contains(c.clock())) {
                assertTrue(
                        RowConflicts.of(table, row).stream()
                                .filter(k -> k.kind() == Conflict.Kind.DELETE_VS_UPDATE)
                                .flatMap(k -> k.candidates().stream())
                                .anyMatch(k -> c.field().equals(k.field())),
                        where + ": update of " + c.field() + " the delete did not see is not in a conflict");
            }
        }
    }
}
