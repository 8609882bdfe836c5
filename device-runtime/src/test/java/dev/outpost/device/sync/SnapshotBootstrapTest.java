package dev.outpost.device.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.device.DeviceException;
import java.util.List;
import org.junit.jupiter.api.Test;

class SnapshotBootstrapTest {
    private static final String SHA_A = "a".repeat(64);
    private static final String SHA_B = "b".repeat(64);

    @Test
    void theListIsReadWhateverElseTheServiceAddsToIt() {
        String json = "{\"snapshots\": [{\"scope\": \"nakuru\", \"sha256\": \"" + SHA_A + "\", \"cursor\": \"100:0\","
                + " \"schemaVersion\": 2, \"rows\": 5, \"bytes\": 812, \"builtAt\": \"2026-12-06T04:00:00Z\","
                + " \"extra\": {\"nested\": [1, {\"sha256\": \"not this\"}]}},"
                + " {\"scope\": \"kericho\", \"sha256\": \"" + SHA_B + "\", \"cursor\": \"99:7\", \"schemaVersion\": 2,"
                + " \"bytes\": 40}], \"more\": {\"scope\": \"ignored\"}}";
        assertEquals(
                List.of(
                        new SnapshotBootstrap.Listed("nakuru", SHA_A, "100:0", 812, 2),
                        new SnapshotBootstrap.Listed("kericho", SHA_B, "99:7", 40, 2)),
                SnapshotBootstrap.list(json));
        assertEquals(List.of(), SnapshotBootstrap.list("{\"snapshots\": []}"));
    }

    @Test
    void anIncompleteListIsAClearError() {
        assertThrows(
                DeviceException.class,
                () -> SnapshotBootstrap.list("{\"snapshots\": [{\"scope\": \"nakuru\", \"sha256\": \"zz\"}]}"));
        assertThrows(DeviceException.class, () -> SnapshotBootstrap.list("{\"snapshots\": [{"));
    }

    @Test
    void theFeedStartsAtTheLowestCursorComparedAsNumbers() {
        assertEquals("99:7", SnapshotBootstrap.lowest(List.of("100:0", "99:7", "100:3")));
        assertEquals("100:2", SnapshotBootstrap.lowest(List.of("100:10", "100:2")));
    }
}
