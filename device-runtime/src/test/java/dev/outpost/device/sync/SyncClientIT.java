package dev.outpost.device.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.OutpostDevice;
import dev.outpost.device.rows.RowRecord;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.LocalWrites;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncResponse;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sync client's answers to what a review of the first release found, each over an in-memory server. */
class SyncClientIT {
    private static final Schema SCHEMA = SchemaLoader.farmExample();

    @TempDir
    Path dir;

    private final AtomicLong wall = new AtomicLong(1_800_000_000_000L);
    private final Set<String> granted = new HashSet<>(Set.of("nakuru", "molo"));
    private FakeSyncServer server;
    private Path home;

    @BeforeEach
    void setUp() {
        server = new FakeSyncServer(SCHEMA, granted, wall::get, 7);
        home = dir.resolve("device");
        OutpostDevice.init(home, "http://127.0.0.1:9", "d1", "opd_test", null, List.of("nakuru", "molo"));
    }

    @Test
    void anAnswerAcknowledgingAnotherBatchMarksNothingSent() {
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            device.rows().put("farmer", "f1", Map.of("name", "Njeri", "district", "nakuru"));
            SyncLink wrongAck = request -> {
                SyncLink.Reply r = server.exchange(request);
                SyncResponse s = ((SyncLink.Reply.Accepted) r).response();
                return new SyncLink.Reply.Accepted(new SyncResponse(
                        new SyncResponse.Ack("d1-another", 1, false),
                        s.cursor(),
                        s.more(),
                        s.serverTimeMs(),
                        s.modelAssignments(),
                        s.changes(),
                        s.conflicts()));
            };
            DeviceException e = assertThrows(
                    DeviceException.class, () -> device.syncClient(wrongAck).sync());
            assertEquals(ExitCode.UNREACHABLE, e.exitCode());
            assertTrue(e.getMessage().contains("d1-another"), e.getMessage());
            assertEquals(1, device.status().pending(), "still pending: the answer named another batch");
            // The same batch goes out again and is answered as a duplicate; now it counts as sent, once.
            device.syncClient(server).sync();
            assertEquals(0, device.status().pending());
            assertEquals(1, server.accepted.get("d1").size());
        }
    }

    @Test
    void aBatchRefusedAsTooLargeIsSplitAndPullsGoOn() {
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            for (int i = 0; i < 40; i++) {
                device.rows().put("farmer", "f" + i, Map.of("name", "n" + i, "district", "nakuru"));
            }
            server.pushAs("d2", List.of(otherWrite("farmer", "g1", "village", "Molo")));
            SyncLink small = request -> request.changes().size() > 6
                    ? new SyncLink.Reply.Refused(new Problem(413, "payload-too-large", "too large", List.of(), -1, -1))
                    : server.exchange(request);
            SyncResult r = device.syncClient(small).sync();
            assertEquals(40, r.pushed());
            assertEquals(1, r.pulled());
            assertEquals(0, device.status().pending());
            assertEquals(40, server.accepted.get("d1").size(), "each change once");
        }
    }

    @Test
    void aSingleChangeTooLargeForTheServerIsSetAsideAndTheRestSync() {
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            device.rows().put("farmer", "big", Map.of("name", "x".repeat(500), "district", "nakuru"));
            device.rows().put("farmer", "f2", Map.of("name", "small", "district", "nakuru"));
            SyncLink limit = request -> request.changes().stream()
                            .anyMatch(c -> c.rowId().equals("big"))
                    ? new SyncLink.Reply.Refused(new Problem(413, "payload-too-large", "too large", List.of(), -1, -1))
                    : server.exchange(request);
            SyncRefused refused = assertThrows(
                    SyncRefused.class, () -> device.syncClient(limit).sync());
            assertEquals(1, refused.result().refused());
            assertEquals(1, refused.result().pushed());
            assertEquals("big", device.rows().refused().getFirst().change().rowId());
            assertEquals("payload-too-large", device.rows().refused().getFirst().code());
        }
    }

    @Test
    void aDiscardedChangeLeavesTheRowAsTheServerHasIt() {
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            server.pushAs("d2", List.of(otherWrite("farmer", "m1", "name", "Wanjiru")));
            device.syncClient(server).sync();
            assertEquals(
                    new FieldValue.Text("Wanjiru"),
                    field(device.rows().get("farmer", "m1").orElseThrow(), "name"));

            granted.remove("molo"); // the server no longer grants the scope of m1
            device.rows().put("farmer", "m1", Map.of("name", "Wanjiru Kamau", "village", "Elburgon"));
            device.rows().put("farmer", "f1", Map.of("name", "Njeri", "district", "nakuru"));
            SyncRefused refused = assertThrows(
                    SyncRefused.class, () -> device.syncClient(server).sync());
            assertEquals(2, refused.result().refused());
            assertEquals(
                    new FieldValue.Text("Wanjiru Kamau"),
                    field(device.rows().get("farmer", "m1").orElseThrow(), "name"),
                    "the refused value stays visible until the user decides");

            long nameSeq = device.rows().refused().stream()
                    .filter(c -> "name".equals(c.change().field()))
                    .findFirst()
                    .orElseThrow()
                    .seq();
            device.rows().discard(nameSeq);
            RowRecord m1 = device.rows().get("farmer", "m1").orElseThrow();
            assertEquals(new FieldValue.Text("Wanjiru"), field(m1, "name"), "back to what the server has");
            assertEquals(new FieldValue.Text("Elburgon"), field(m1, "village"), "the other refused change stays");
            assertEquals(1, device.rows().refused().size());

            long villageSeq = device.rows().refused().getFirst().seq();
            device.rows().discard(villageSeq);
            assertEquals(null, field(device.rows().get("farmer", "m1").orElseThrow(), "village"));
            DeviceException twice =
                    assertThrows(DeviceException.class, () -> device.rows().discard(villageSeq));
            assertEquals(ExitCode.BAD_INPUT, twice.exitCode());

            // A row only this device wrote, refused whole: discarding its change removes it.
            device.rows().put("farmer", "m2", Map.of("name", "Nobody", "district", "molo"));
            assertThrows(SyncRefused.class, () -> device.syncClient(server).sync());
            device.rows().discard(device.rows().refused().getFirst().seq());
            assertTrue(device.rows().get("farmer", "m2").isEmpty());
            assertEquals(0, device.status().pending());
        }
    }

    @Test
    void aRetriedChangeGoesOutWithTheNextSync() {
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            granted.remove("molo");
            device.rows().put("farmer", "m1", Map.of("name", "Later", "district", "molo"));
            assertThrows(SyncRefused.class, () -> device.syncClient(server).sync());
            long seq = device.rows().refused().getFirst().seq();
            granted.add("molo"); // an operator granted the scope again
            device.rows().retry(seq);
            assertEquals(1, device.status().pending());
            device.syncClient(server).sync();
            assertTrue(device.rows().refused().isEmpty());
            assertEquals(new FieldValue.Text("Later"), field(server.rows().get("farmer/m1"), "name"));
            assertThrows(DeviceException.class, () -> device.rows().retry(seq));
        }
    }

    @Test
    void theScopeColumnIsReadAsJsonLikeEveryOtherValue() {
        try (OutpostDevice device = OutpostDevice.open(home, wall::get)) {
            device.rows().put("farmer", "f1", Map.of("district", "\"nakuru\"", "name", "\"Njeri\""));
            RowRecord f1 = device.rows().get("farmer", "f1").orElseThrow();
            assertEquals("nakuru", f1.scope());
            assertEquals(new FieldValue.Text("Njeri"), field(f1, "name"));
            device.rows().put("farmer", "f2", Map.of("district", "molo", "name", "plain"));
            assertEquals("molo", device.rows().get("farmer", "f2").orElseThrow().scope());
        }
    }

    private final HybridClock other = new HybridClock("d2", wall::get, null);

    private Change otherWrite(String table, String id, String field, String value) {
        String scope = id.startsWith("m") ? "molo" : "nakuru";
        RowState row = server.rows().getOrDefault(table + "/" + id, RowState.empty(table, id, scope));
        return LocalWrites.assign(row, field, new FieldValue.Text(value), other.now());
    }

    private static FieldValue field(RowRecord row, String name) {
        return row.fields().stream()
                .filter(f -> f.name().equals(name))
                .findFirst()
                .orElseThrow()
                .value();
    }

    private static FieldValue field(RowState row, String name) {
        return dev.outpost.model.merge.RowView.valueOf(row.field(name));
    }
}
