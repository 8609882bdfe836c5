package dev.outpost.model.merge;

import static dev.outpost.model.change.FieldValue.decimal;
import static dev.outpost.model.change.FieldValue.integer;
import static dev.outpost.model.change.FieldValue.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RowMergeTest {
    private static final String CROP = "crop_record";
    private final Schema schema = SchemaLoader.farmExample();
    private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);
    private final Replica a = new Replica("device-a", schema, wall::get);
    private final Replica b = new Replica("device-b", schema, wall::get);
    private final Replica c = new Replica("device-c", schema, wall::get);

    private void exchange(Replica... replicas) {
        for (Replica to : replicas) {
            for (Replica from : replicas) {
                to.receiveAll(from);
            }
        }
    }

    @Test
    void lwwTakesTheLaterClock() {
        a.put("farmer", "f1", "name", text("Wanjiru"));
        wall.addAndGet(10);
        b.put("farmer", "f1", "name", text("Wanjiru K."));
        exchange(a, b);
        assertEquals(text("Wanjiru K."), a.view("farmer", "f1", "name"));
        assertEquals(a.rows, b.rows);
    }

    @Test
    void lwwWithEqualPhysicalTimesOnTwoDevicesIsDecidedByDeviceId() {
        // Same wall clock, no communication: both readings are (t, 0); device-b > device-a.
        a.put("farmer", "f1", "village", text("Njoro"));
        b.put("farmer", "f1", "village", text("Molo"));
        assertEquals(a.last().physicalMs(), b.last().physicalMs());
        b.receiveAll(a);
        a.receiveAll(b);
        assertEquals(text("Molo"), a.view("farmer", "f1", "village"));
        assertEquals(text("Molo"), b.view("farmer", "f1", "village"));
    }

    @Test
    void concurrentEditsOfDifferentFieldsBothSurvive() {
        a.put("farmer", "f1", "name", text("Achieng"));
        b.put("farmer", "f1", "village", text("Rongai"));
        exchange(a, b);
        assertEquals(text("Achieng"), b.view("farmer", "f1", "name"));
        assertEquals(text("Rongai"), a.view("farmer", "f1", "village"));
    }

    @Test
    void counterIncrementsOnThreeDevicesAllCountExactlyOnce() {
        a.add(CROP, "c1", "bags_harvested", 5);
        a.add(CROP, "c1", "bags_harvested", 2);
        b.add(CROP, "c1", "bags_harvested", 10);
        c.add(CROP, "c1", "bags_harvested", -3);
        exchange(a, b, c);
        exchange(a, b, c); // duplicates change nothing
        for (Replica r : List.of(a, b, c)) {
            assertEquals(integer(14), r.view(CROP, "c1", "bags_harvested"));
        }
    }

    @Test
    void counterDecrementsBelowZeroAndLateIntermediateChangesDoNotUndoLaterOnes() {
        Change first = a.add(CROP, "c1", "bags_harvested", 4);
        Change second = a.add(CROP, "c1", "bags_harvested", -6);
        b.apply(second);
        b.apply(first); // reordered: the older total must not win
        assertEquals(integer(-2), b.view(CROP, "c1", "bags_harvested"));
    }

    @Test
    void concurrentAddAndRemoveOfTheSameElementAddWins() {
        a.tag(CROP, "c1", "pests", "aphids");
        exchange(a, b);
        b.untag(CROP, "c1", "pests", "aphids"); // b removes the add it saw
        a.tag(CROP, "c1", "pests", "aphids"); // a adds again, concurrently
        exchange(a, b);
        assertEquals(new FieldValue.Json("[\"aphids\"]"), a.view(CROP, "c1", "pests"));
        assertEquals(a.rows, b.rows);
    }

    @Test
    void removeOfAnObservedElementRemovesItEverywhere() {
        a.tag(CROP, "c1", "pests", "aphids");
        a.tag(CROP, "c1", "pests", "stalk borer");
        exchange(a, b);
        b.untag(CROP, "c1", "pests", "aphids");
        exchange(a, b);
        assertEquals(new FieldValue.Json("[\"stalk borer\"]"), a.view(CROP, "c1", "pests"));
    }

    @Test
    void maxKeepsTheLargestStageWhateverTheClocks() {
        a.put(CROP, "c1", "stage", integer(4));
        wall.addAndGet(1000);
        b.put(CROP, "c1", "stage", integer(2)); // later, but smaller
        exchange(a, b);
        assertEquals(integer(4), b.view(CROP, "c1", "stage"));
    }

    @Test
    void minKeepsTheSmallestAndIgnoresNulls() {
        Schema s = SchemaLoader.parse("""
                version: 1
                scope: district
                tables:
                  t: {columns: {low: {type: decimal, merge: min}}}
                """);
        Replica x = new Replica("x", s, wall::get);
        Replica y = new Replica("y", s, wall::get);
        x.put("t", "r", "low", decimal("3.5"));
        y.put("t", "r", "low", decimal("2.25"));
        wall.addAndGet(5);
        y.put("t", "r", "low", FieldValue.NULL);
        x.receiveAll(y);
        y.receiveAll(x);
        assertEquals(decimal("2.25"), x.view("t", "r", "low"));
        assertEquals(x.rows, y.rows);
    }

    @Test
    void concurrentReviewWritesKeepEveryValueInAConflict() {
        a.put(CROP, "c1", "yield_kg", decimal("1200"));
        wall.addAndGet(10);
        b.put(CROP, "c1", "yield_kg", decimal("1350"));
        exchange(a, b);
        List<Conflict> conflicts = a.conflicts(CROP, "c1");
        assertEquals(1, conflicts.size());
        Conflict conflict = conflicts.getFirst();
        assertEquals(Conflict.Kind.CONCURRENT_WRITES, conflict.kind());
        assertEquals("yield_kg", conflict.field());
        assertEquals(decimal("1350"), conflict.winner().value());
        assertEquals("device-b", conflict.winner().deviceId());
        assertEquals(decimal("1200"), conflict.candidates().get(1).value());
        assertEquals("device-a", conflict.candidates().get(1).deviceId());
        assertEquals(decimal("1350"), a.view(CROP, "c1", "yield_kg")); // provisional winner
        assertEquals(conflicts, b.conflicts(CROP, "c1"));
        assertEquals(1, b.opened.size());
    }

    @Test
    void aReviewWriteMadeAfterSeeingTheValueIsAnOrdinaryUpdate() {
        a.put("farmer", "f1", "phone", text("+254700000001"));
        exchange(a, b);
        b.put("farmer", "f1", "phone", text("+254700000002"));
        exchange(a, b);
        assertEquals(List.of(), a.conflicts("farmer", "f1"));
        assertEquals(text("+254700000002"), a.view("farmer", "f1", "phone"));
    }

    @Test
    void aResolutionClosesTheConflictOnEveryReplica() {
        a.put(CROP, "c1", "yield_kg", decimal("1200"));
        b.put(CROP, "c1", "yield_kg", decimal("1350"));
        c.put(CROP, "c1", "yield_kg", decimal("990"));
        exchange(a, b, c);
        assertEquals(3, a.conflicts(CROP, "c1").getFirst().candidates().size());
        c.resolve(CROP, "c1", "yield_kg", decimal("1300"));
        exchange(a, b, c);
        for (Replica r : List.of(a, b, c)) {
            assertEquals(List.of(), r.conflicts(CROP, "c1"));
            assertEquals(decimal("1300"), r.view(CROP, "c1", "yield_kg"));
        }
    }

    @Test
    void anOrdinaryWriteDuringAConflictLeavesTheUnseenLoserInTheConflict() {
        a.put(CROP, "c1", "yield_kg", decimal("1200"));
        wall.addAndGet(1);
        b.put(CROP, "c1", "yield_kg", decimal("1350"));
        exchange(a, b);
        a.put(CROP, "c1", "yield_kg", decimal("1400")); // replaces only the winner a shows (b's 1350)
        exchange(a, b);
        Conflict conflict = b.conflicts(CROP, "c1").getFirst();
        assertEquals(
                List.of(decimal("1400"), decimal("1200")),
                conflict.candidates().stream().map(Conflict.Candidate::value).toList());
    }

    @Test
    void deleteThenConcurrentUpdateKeepsTheUpdateInAConflict() {
        a.put(CROP, "c1", "notes", text("planted late"));
        exchange(a, b);
        a.delete(CROP, "c1");
        b.put(CROP, "c1", "notes", text("replanted after rain"));
        a.receiveAll(b); // delete first, then update arrives
        b.receiveAll(a); // update first, then delete arrives
        for (Replica r : List.of(a, b)) {
            assertTrue(r.deleted(CROP, "c1"));
            Conflict conflict = r.conflicts(CROP, "c1").getFirst();
            assertEquals(Conflict.Kind.DELETE_VS_UPDATE, conflict.kind());
            assertTrue(conflict.winner().delete());
            assertEquals(
                    text("replanted after rain"), conflict.candidates().get(1).value());
            assertEquals("device-b", conflict.candidates().get(1).deviceId());
        }
        assertEquals(a.rows, b.rows);
    }

    @Test
    void deleteAfterSeeingEveryUpdateIsNoConflict() {
        a.put(CROP, "c1", "notes", text("x"));
        a.add(CROP, "c1", "bags_harvested", 3);
        exchange(a, b);
        b.delete(CROP, "c1");
        exchange(a, b);
        assertTrue(a.deleted(CROP, "c1"));
        assertEquals(List.of(), a.conflicts(CROP, "c1"));
    }

    @Test
    void updateWinsPolicyKeepsTheRowAndRecordsTheDelete() {
        Schema s = SchemaLoader.parse("""
                version: 1
                scope: district
                tables:
                  t: {columns: {v: text}, on_delete_vs_update: update_wins}
                """);
        Replica x = new Replica("x", s, wall::get);
        Replica y = new Replica("y", s, wall::get);
        x.put("t", "r", "v", text("one"));
        y.receiveAll(x);
        x.delete("t", "r");
        y.put("t", "r", "v", text("two"));
        x.receiveAll(y);
        y.receiveAll(x);
        assertFalse(x.deleted("t", "r"));
        Conflict conflict = x.conflicts("t", "r").getFirst();
        assertEquals(text("two"), conflict.winner().value());
        assertTrue(conflict.candidates().get(1).delete());
        assertEquals(x.rows, y.rows);
    }

    @Test
    void restoreBringsADeletedRowBackAndALaterDeleteRemovesItAgain() {
        a.put("farmer", "f1", "name", text("Kiprono"));
        a.delete("farmer", "f1");
        exchange(a, b);
        assertTrue(b.deleted("farmer", "f1"));
        b.restore("farmer", "f1");
        exchange(a, b);
        assertFalse(a.deleted("farmer", "f1"));
        assertEquals(text("Kiprono"), a.view("farmer", "f1", "name"));
        a.delete("farmer", "f1");
        exchange(a, b);
        assertTrue(b.deleted("farmer", "f1"));
    }

    @Test
    void applyingAChangeTwiceReportsNoSecondChange() {
        Change ch = a.put("farmer", "f1", "name", text("Otieno"));
        assertTrue(b.apply(ch));
        assertFalse(b.apply(ch));
    }

    @Test
    void aRowCannotMoveScope() {
        Change ch = a.put("farmer", "f1", "name", text("Otieno"));
        Change moved = new Change("farmer", "f1", "kericho", "name", ch.op(), a.clock.now());
        OutpostException e = assertThrows(OutpostException.class, () -> a.apply(moved));
        assertEquals(ErrorCode.SCOPE_CHANGE, e.code());
    }

    @Test
    void validatorRefusesWrongTypesAndOpsThatDoNotFitThePolicy() {
        Hlc h = new Hlc(1, 0, "d");
        assertCode(ErrorCode.TYPE_MISMATCH, new Change(CROP, "c1", "n", "stage", new Op.Assign(text("three")), h));
        assertCode(
                ErrorCode.OPERATION_NOT_ALLOWED,
                new Change(CROP, "c1", "n", "bags_harvested", new Op.Assign(integer(3)), h));
        assertCode(ErrorCode.OPERATION_NOT_ALLOWED, new Change(CROP, "c1", "n", "notes", new Op.SetAdd("x"), h));
        assertCode(ErrorCode.UNKNOWN_FIELD, new Change(CROP, "c1", "n", "colour", new Op.Assign(text("x")), h));
        assertCode(ErrorCode.UNKNOWN_TABLE, new Change("cows", "c1", "n", "name", new Op.Assign(text("x")), h));
        assertCode(ErrorCode.INVALID_ID, new Change(CROP, "c 1", "n", "notes", new Op.Assign(text("x")), h));
        assertCode(
                ErrorCode.TYPE_MISMATCH, new Change(CROP, "c1", "n", "plot_id", new Op.Assign(text("not an id!")), h));
        assertCode(
                ErrorCode.OPERATION_NOT_ALLOWED,
                new Change(CROP, "c1", "n", "notes", new Op.Assign(text("x"), List.of(h)), h));
    }

    @Test
    void rowIdsAreOneToSixtyFourAsciiLettersDigitsAndDashUnderscoreDotColon() {
        assertTrue(ChangeValidator.isRowId("a"));
        assertTrue(ChangeValidator.isRowId("01J9Z-farm_7.plot:3"));
        assertTrue(ChangeValidator.isRowId("x".repeat(64)));
        assertFalse(ChangeValidator.isRowId(""));
        assertFalse(ChangeValidator.isRowId("x".repeat(65)));
        for (String bad : List.of("c 1", "caf\u00e9", "a/b", "a\nb", "\u0661", "a+b", "a@b", "[x]", "`x`")) {
            assertFalse(ChangeValidator.isRowId(bad), bad);
        }
    }

    private void assertCode(ErrorCode code, Change change) {
        OutpostException e = assertThrows(OutpostException.class, () -> ChangeValidator.validate(schema, change));
        assertEquals(code, e.code(), e.getMessage());
    }
}
