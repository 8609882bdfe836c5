package dev.outpost.model.clock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.OutpostException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class HybridClockTest {
    private final AtomicLong wall = new AtomicLong(1_000_000);
    private final HybridClock clock = new HybridClock("d1", wall::get, null);

    @Test
    void readingsFollowTheWallClockWhenItMovesForward() {
        Hlc a = clock.now();
        wall.addAndGet(5);
        Hlc b = clock.now();
        assertEquals(new Hlc(1_000_000, 0, "d1"), a);
        assertEquals(new Hlc(1_000_005, 0, "d1"), b);
    }

    @Test
    void staysMonotonicWhenTheWallClockStallsOrGoesBackwards() {
        Hlc a = clock.now();
        Hlc b = clock.now();
        wall.addAndGet(-60_000);
        Hlc c = clock.now();
        assertTrue(b.isAfter(a));
        assertTrue(c.isAfter(b));
        assertEquals(1_000_000, c.physicalMs());
        assertEquals(2, c.logical());
    }

    @Test
    void receiveMovesPastARemoteReadingAhead() {
        clock.now();
        Hlc remote = new Hlc(1_000_500, 7, "d2");
        Hlc after = clock.receive(remote);
        assertEquals(new Hlc(1_000_500, 8, "d1"), after);
        assertTrue(clock.now().isAfter(remote));
    }

    @Test
    void receiveOfAnOlderReadingStillTicks() {
        Hlc mine = clock.now();
        Hlc after = clock.receive(new Hlc(10, 3, "d2"));
        assertTrue(after.isAfter(mine));
    }

    @Test
    void equalPhysicalAndLogicalTimesAreOrderedByDeviceId() {
        Hlc a = new Hlc(5, 0, "alpha");
        Hlc b = new Hlc(5, 0, "beta");
        assertTrue(b.isAfter(a));
        assertEquals(b, Hlc.max(a, b));
        assertEquals(b, Hlc.max(b, a));
    }

    @Test
    void stateSurvivesARestartEvenIfTheWallClockWentBack() {
        clock.now();
        Hlc last = clock.now();
        wall.set(10);
        HybridClock restarted = new HybridClock("d1", wall::get, last);
        assertTrue(restarted.now().isAfter(last));
        assertTrue(restarted.driftAheadMs() > 0);
    }

    @Test
    void logicalOverflowBorrowsTheNextMillisecond() {
        HybridClock c = new HybridClock("d1", wall::get, new Hlc(1_000_000, Hlc.LOGICAL_MAX, "d1"));
        assertEquals(new Hlc(1_000_001, 0, "d1"), c.now());
    }

    @Test
    void textFormRoundTripsAndBadTextIsRefused() {
        Hlc h = new Hlc(1_763_871_813_123L, 42, "dev:ice-1");
        assertEquals(h, Hlc.parse(h.toString()));
        assertThrows(OutpostException.class, () -> Hlc.parse("12:x:d1"));
        assertThrows(OutpostException.class, () -> Hlc.parse("12:0:"));
        assertThrows(OutpostException.class, () -> Hlc.parse("garbage"));
        assertThrows(OutpostException.class, () -> new Hlc(-1, 0, "d"));
    }
}
