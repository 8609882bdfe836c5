package dev.outpost.model.bench;

import dev.outpost.model.change.Change;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.ChangeBatch;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/**
 * {@code bench/run wire}: bytes on the wire for a seeded day of edits, our binary delta batches against (a) one
 * full-record JSON document per edit and (b) the same documents gzip-compressed in the same batches.
 */
public final class WireBench {
    private WireBench() {}

    public static void main(String[] args) throws IOException {
        int editCount = args.length > 0 ? Integer.parseInt(args[0]) : 2_000;
        int batchChangesMax = args.length > 1 ? Integer.parseInt(args[1]) : 500;
        long seed = args.length > 2 ? Long.parseLong(args[2]) : 20261123L;
        Schema schema = SchemaLoader.farmExample();
        String device = "officer-07";
        List<FarmDay.Edit> edits = new FarmDay(schema, seed, device).edits(editCount);
        WireCodec codec = new WireCodec(schema, WireLimits.DEFAULT);

        long deltaBytes = 0, baselineBytes = 0, gzipBytes = 0, jsonDeltaBytes = 0;
        int changeCount = 0, batches = 0;
        List<Change> batch = new ArrayList<>();
        StringBuilder baselineBatch = new StringBuilder("[");
        for (int i = 0; i < edits.size(); i++) {
            FarmDay.Edit e = edits.get(i);
            String doc = FarmDay.fullRecordJson(
                    schema, e, device, e.changes().getFirst().clock().physicalMs());
            baselineBytes += doc.getBytes(StandardCharsets.UTF_8).length;
            baselineBatch.append(baselineBatch.length() > 1 ? "," : "").append(doc);
            batch.addAll(e.changes());
            changeCount += e.changes().size();
            boolean last = i == edits.size() - 1;
            if (last || batch.size() + 3 > batchChangesMax) {
                ChangeBatch cb = new ChangeBatch("batch-" + batches, batch);
                deltaBytes += codec.encode(cb, WireFormat.BINARY).length;
                jsonDeltaBytes += codec.encode(cb, WireFormat.JSON).length;
                gzipBytes += gzip(baselineBatch.append(']').toString());
                batch = new ArrayList<>();
                baselineBatch = new StringBuilder("[");
                batches++;
            }
        }
        System.out.printf(
                "edits=%d field_changes=%d batches=%d bytes_per_change=%.1f json_delta_bytes=%d gzip_baseline_bytes=%d%n",
                editCount, changeCount, batches, (double) deltaBytes / changeCount, jsonDeltaBytes, gzipBytes);
        System.out.printf(
                "RESULT name=wire delta_bytes=%d baseline_bytes=%d ratio=%.4f gzip_ratio=%.4f%n",
                deltaBytes, baselineBytes, (double) deltaBytes / baselineBytes, (double) deltaBytes / gzipBytes);
    }

    private static long gzip(String s) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(s.getBytes(StandardCharsets.UTF_8));
        }
        return out.size();
    }
}
