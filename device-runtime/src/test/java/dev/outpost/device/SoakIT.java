package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chaos soak's CI variant (docs/RELIABILITY.md): two minutes of three real devices editing and syncing through a
 * faulty link while the service, its PostgreSQL and the devices are killed, then the oracle's checks. Replay a failure
 * with {@code -Doutpost.soak.seed=SEED} (and {@code -Doutpost.soak.minutes=M}), or {@code bench/run soak M SEED 3}.
 */
class SoakIT {
    @TempDir
    Path dir;

    @Test
    void nothingAcknowledgedIsLostOrDoubledUnderKillsAndABadLink() throws Exception {
        long seed = Long.getLong("outpost.soak.seed", System.nanoTime());
        double minutes = Double.parseDouble(System.getProperty("outpost.soak.minutes", "2"));
        ChaosSoak soak = new ChaosSoak(seed, minutes, 3, dir);
        soak.run();
        System.out.println(soak.summary());
        System.out.println(soak.result());
        assertEquals(List.of(), soak.failures, "seed " + seed);
        assertEquals(0, soak.lost, "seed " + seed);
        assertEquals(0, soak.duplicated, "seed " + seed);
        assertTrue(soak.total(soak.kills) >= 100, "seed " + seed + ": only " + soak.total(soak.kills) + " kill points");
        for (String where : List.of("device-write", "device-sync", "model-install", "service", "postgres")) {
            assertTrue(soak.get(soak.kills, where) > 0, "seed " + seed + ": no kill in " + where + ": " + soak.kills);
        }
        assertTrue(soak.get(soak.operations, "write") > 60, "seed " + seed + ": " + soak.operations);
        assertTrue(soak.get(soak.operations, "sync") > 20, "seed " + seed + ": " + soak.operations);
        for (ChaosProxy.Fault f : ChaosProxy.Fault.values()) {
            String kind = f.name().toLowerCase(java.util.Locale.ROOT);
            assertTrue(soak.proxyCount(kind) > 0, "seed " + seed + ": no " + kind + " injected");
        }
    }
}
