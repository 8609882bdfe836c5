package dev.outpost.model.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ScopeSnapshotTest {
    private static byte[] write(int rows) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Random random = new Random(rows);
        try (ScopeSnapshot.Writer w = new ScopeSnapshot.Writer(out, new ScopeSnapshot.Header("nakuru", "812:0", 3))) {
            for (int i = 0; i < rows; i++) {
                byte[] state = new byte[random.nextInt(200)];
                random.nextBytes(state);
                w.row("farmer", "f" + i, i % 7 == 0, state);
            }
        }
        return out.toByteArray();
    }

    @Test
    void rowsReadBackAsWrittenAfterTheHeader() throws IOException {
        byte[] file = write(1000);
        Random random = new Random(1000);
        try (ScopeSnapshot.Reader r = new ScopeSnapshot.Reader(new ByteArrayInputStream(file))) {
            assertEquals(new ScopeSnapshot.Header("nakuru", "812:0", 3), r.header());
            for (int i = 0; i < 1000; i++) {
                byte[] state = new byte[random.nextInt(200)];
                random.nextBytes(state);
                ScopeSnapshot.Row row = r.next();
                assertEquals("f" + i, row.id());
                assertEquals(i % 7 == 0, row.deleted());
                assertArrayEquals(state, row.state());
            }
            assertNull(r.next());
            assertNull(r.next());
        }
    }

    @Test
    void aCutFileIsRefusedNeverTakenForAShorterSnapshot() throws IOException {
        byte[] file = write(500);
        for (int cut : new int[] {file.length - 1, file.length / 2, 20}) {
            byte[] part = Arrays.copyOf(file, cut);
            Exception e = assertThrows(Exception.class, () -> {
                try (ScopeSnapshot.Reader r = new ScopeSnapshot.Reader(new ByteArrayInputStream(part))) {
                    while (r.next() != null) {
                        // read to the end
                    }
                }
            });
            if (e instanceof OutpostException o) {
                assertEquals(ErrorCode.MALFORMED_PAYLOAD, o.code());
            }
        }
    }

    @Test
    void somethingElseIsNotASnapshot() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (var z = new com.github.luben.zstd.ZstdOutputStream(out)) {
            z.write("OPSNAQ and more".getBytes());
        }
        OutpostException e = assertThrows(
                OutpostException.class, () -> new ScopeSnapshot.Reader(new ByteArrayInputStream(out.toByteArray())));
        assertEquals(ErrorCode.MALFORMED_PAYLOAD, e.code());
    }
}
