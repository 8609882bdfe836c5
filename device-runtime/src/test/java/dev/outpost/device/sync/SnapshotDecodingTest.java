package dev.outpost.device.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.rows.RowStates;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.snapshot.ScopeSnapshot;
import dev.outpost.model.wire.RowStateCodec;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The snapshot reader's thread: every row once, in order, split into held and fresh; failures reach the installer. */
class SnapshotDecodingTest {
    private static final Schema SCHEMA = SchemaLoader.farmExample();
    private static final RowStateCodec CODEC = new RowStateCodec(SCHEMA);
    private static final RowStates STATES = new RowStates(SCHEMA, null, null, null, null);

    @TempDir
    Path dir;

    /** A snapshot of farmers 0 to rows - 1, named "Farmer i", written by a device whose clock reads 1000 + i. */
    private Path snapshot(String name, int rows, int schemaVersion) throws Exception {
        Path file = dir.resolve(name);
        try (OutputStream out = Files.newOutputStream(file);
                ScopeSnapshot.Writer w =
                        new ScopeSnapshot.Writer(out, new ScopeSnapshot.Header("nakuru", "10:0", schemaVersion))) {
            for (int i = 0; i < rows; i++) {
                String id = String.format("f%05d", i);
                Change c = new Change(
                        "farmer",
                        id,
                        "nakuru",
                        "name",
                        new Op.Assign(new FieldValue.Text("Farmer " + i)),
                        new Hlc(1000 + i, 0, "writer"));
                w.row("farmer", id, false, CODEC.encodeBinary(RowMerge.delta(SCHEMA.table("farmer"), c)));
            }
        }
        return file;
    }

    private static HybridClock clock() {
        return new HybridClock("me", () -> 5, new Hlc(0, 0, "me"));
    }

    @Test
    void everyRowArrivesOnceInOrderWithHeldRowsApart() throws Exception {
        int rows = SnapshotDecoding.BATCH * 3 + 17;
        Path file = snapshot("a", rows, SCHEMA.version());
        HybridClock clock = clock();
        List<String> fresh = new ArrayList<>();
        List<String> held = new ArrayList<>();
        try (SnapshotDecoding d = new SnapshotDecoding(
                List.of(file), List.of("nakuru"), SCHEMA, STATES, Set.of("farmer/f00007", "farmer/f00300"), clock)) {
            for (SnapshotDecoding.Batch b; (b = d.next()) != null; ) {
                b.fresh().forEach(r -> fresh.add(r.id()));
                b.held().forEach(h -> held.add(h.theirs().id()));
                b.fresh()
                        .forEach(r -> assertEquals(
                                List.of("Farmer " + Integer.parseInt(r.id().substring(1))),
                                r.typed().subList(0, 1)));
            }
            assertEquals(rows, d.rows());
        }
        assertEquals(List.of("f00007", "f00300"), held);
        assertEquals(rows - 2, fresh.size());
        for (int i = 1; i < fresh.size(); i++) {
            assertFalse(fresh.get(i - 1).compareTo(fresh.get(i)) >= 0, "in snapshot order at " + i);
        }
        assertEquals(1000 + rows - 1, clock.last().physicalMs(), "the clock has seen every row's");
    }

    @Test
    void aDamagedFileOrAnotherSchemaVersionIsThrownToTheInstaller() throws Exception {
        Path good = snapshot("good", 600, SCHEMA.version());
        byte[] bytes = Files.readAllBytes(good);
        Path cut = Files.write(dir.resolve("cut"), java.util.Arrays.copyOf(bytes, bytes.length / 2));
        try (SnapshotDecoding d =
                new SnapshotDecoding(List.of(cut), List.of("nakuru"), SCHEMA, STATES, Set.of(), clock())) {
            // The cut compressed stream: an I/O error from the zstd reader, thrown here as the install's failure.
            assertThrows(UncheckedIOException.class, () -> {
                while (d.next() != null) {}
            });
        }
        Path other = snapshot("other", 3, SCHEMA.version() + 1);
        try (SnapshotDecoding d =
                new SnapshotDecoding(List.of(other), List.of("nakuru"), SCHEMA, STATES, Set.of(), clock())) {
            DeviceException e = assertThrows(DeviceException.class, d::next);
            assertEquals(ExitCode.REFUSED, e.exitCode());
        }
    }

    @Test
    void closingWhileTheReaderWaitsStopsIt() throws Exception {
        Path file = snapshot("big", SnapshotDecoding.BATCH * 20, SCHEMA.version());
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try (SnapshotDecoding d =
                    new SnapshotDecoding(List.of(file), List.of("nakuru"), SCHEMA, STATES, Set.of(), clock())) {
                // One batch taken; the reader fills the hand-over and waits for the installer, which gives up.
                assertEquals(SnapshotDecoding.BATCH, d.next().fresh().size());
            }
        });
        // An empty list of files: the end at once.
        try (SnapshotDecoding d = new SnapshotDecoding(List.of(), List.of(), SCHEMA, STATES, Set.of(), clock())) {
            assertNull(d.next());
        }
    }
}
