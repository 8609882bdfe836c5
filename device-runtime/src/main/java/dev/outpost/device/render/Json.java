package dev.outpost.device.render;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.outpost.device.DeviceStatus;
import dev.outpost.device.ExitCode;
import dev.outpost.device.model.ModelStatus;
import dev.outpost.device.model.install.ModelInstall;
import dev.outpost.device.rows.RefusedChange;
import dev.outpost.device.rows.RowChanges;
import dev.outpost.device.rows.RowRecord;
import dev.outpost.device.sync.SyncResult;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.wire.WireCodec;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The one JSON rendering of what the device shows, shared by the command line and the local API (Jackson's streaming
 * generator: no reflection). Field names are part of the device's interface: scripts and apps read them.
 */
public final class Json {
    private static final JsonFactory JSON = new JsonFactory();

    private Json() {}

    @FunctionalInterface
    private interface Writing {
        void write(JsonGenerator g) throws IOException;
    }

    private static String render(Writing w) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            w.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException("JSON into memory failed", e);
        }
        return out.toString();
    }

    /** A row: id, the scope column, then every field in schema order. */
    public static String row(RowRecord row, String scopeColumn) {
        return render(g -> writeRow(g, row, scopeColumn));
    }

    public static String rows(List<RowRecord> rows, String scopeColumn) {
        return render(g -> {
            g.writeStartArray();
            for (RowRecord r : rows) {
                writeRow(g, r, scopeColumn);
            }
            g.writeEndArray();
        });
    }

    private static void writeRow(JsonGenerator g, RowRecord row, String scopeColumn) throws IOException {
        g.writeStartObject();
        g.writeStringField("id", row.id());
        g.writeStringField(scopeColumn, row.scope());
        for (RowRecord.Field f : row.fields()) {
            g.writeFieldName(f.name());
            writeValue(g, f.value());
        }
        g.writeEndObject();
    }

    private static void writeValue(JsonGenerator g, FieldValue v) throws IOException {
        if (v == null) {
            g.writeNull();
        } else {
            g.writeRawValue(WireCodec.encodeValue(v));
        }
    }

    /** Open conflicts: table, id, field, kind, status, and the candidates with the provisional winner first. */
    public static String conflicts(List<Conflict> conflicts) {
        return render(g -> {
            g.writeStartArray();
            for (Conflict c : conflicts) {
                g.writeStartObject();
                g.writeStringField("table", c.table());
                g.writeStringField("id", c.rowId());
                g.writeStringField("field", c.field());
                g.writeStringField("kind", c.kind().key());
                g.writeStringField("status", "open");
                g.writeArrayFieldStart("candidates");
                for (int i = 0; i < c.candidates().size(); i++) {
                    Conflict.Candidate k = c.candidates().get(i);
                    g.writeStartObject();
                    g.writeStringField("field", k.field());
                    g.writeFieldName("value");
                    writeValue(g, k.value());
                    g.writeStringField("device", k.deviceId());
                    g.writeStringField("clock", k.clock().toString());
                    g.writeBooleanField("delete", k.delete());
                    g.writeBooleanField("winner", i == 0);
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndArray();
        });
    }

    /** Refused changes: seq, the service's code and message, and the change as it was logged. */
    public static String refused(List<RefusedChange> refused, WireCodec codec) {
        return render(g -> writeRefused(g, refused, codec));
    }

    private static void writeRefused(JsonGenerator g, List<RefusedChange> refused, WireCodec codec) throws IOException {
        g.writeStartArray();
        for (RefusedChange r : refused) {
            Change c = r.change();
            g.writeStartObject();
            g.writeNumberField("seq", r.seq());
            g.writeStringField("code", r.code());
            g.writeStringField("message", r.message());
            g.writeStringField("table", c.table());
            g.writeStringField("id", c.rowId());
            g.writeStringField("field", c.field());
            g.writeFieldName("change");
            g.writeRawValue(codec.encodeChange(c));
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /** The device's status with its model status JSON ({@code models}) when given. */
    public static String status(DeviceStatus s, WireCodec codec, String models) {
        return status(s, codec, models, null, null);
    }

    /**
     * The device's status; {@code models} (model status JSON), {@code worker} and {@code modelWorker} (the background
     * loops' last outcomes) are added when given.
     */
    public static String status(DeviceStatus s, WireCodec codec, String models, String worker, String modelWorker) {
        return render(g -> {
            g.writeStartObject();
            g.writeStringField("deviceId", s.deviceId());
            g.writeStringField("server", s.server());
            g.writeArrayFieldStart("scopes");
            for (String scope : s.scopes()) {
                g.writeString(scope);
            }
            g.writeEndArray();
            g.writeNumberField("pending", s.pending());
            g.writeFieldName("refused");
            writeRefused(g, s.refused(), codec);
            g.writeStringField("lastSyncAt", s.lastSyncAt());
            g.writeStringField(
                    "lastSyncError",
                    s.lastSyncError() == null || s.lastSyncError().isEmpty() ? null : s.lastSyncError());
            g.writeStringField("cursor", s.cursor());
            g.writeNumberField("clockOffsetMs", s.clockOffsetMs());
            if (worker != null) {
                g.writeStringField("worker", worker);
            }
            if (modelWorker != null) {
                g.writeStringField("modelWorker", modelWorker);
            }
            if (models != null) {
                g.writeFieldName("models");
                g.writeRawValue(models);
            }
            g.writeEndObject();
        });
    }

    /** {@code model status}: artifacts with their slots, assignment, install and marks; the report queue. */
    public static String modelStatus(ModelStatus status) {
        return render(g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("artifacts");
            for (ModelStatus.Artifact a : status.artifacts()) {
                g.writeStartObject();
                g.writeStringField("artifact", a.artifact());
                if (a.error() != null) {
                    g.writeStringField("error", a.error());
                } else {
                    g.writeFieldName("active");
                    writeSlot(g, a.active());
                    g.writeFieldName("kept");
                    writeSlot(g, a.kept());
                }
                if (a.assigned()) {
                    g.writeFieldName("desired");
                    if (a.desired() == null) {
                        g.writeNull();
                    } else {
                        g.writeStartObject();
                        g.writeNumberField("version", a.desired().version());
                        g.writeBooleanField("rollback", a.desired().rollback());
                        g.writeStringField(
                                "expiresAt",
                                Instant.ofEpochMilli(a.desired().expiresAtMs()).toString());
                        g.writeEndObject();
                    }
                }
                if (a.refused()) {
                    g.writeBooleanField("refused", true); // the worker waits for a new assignment
                }
                if (a.install() != null) {
                    ModelInstall i = a.install();
                    g.writeObjectFieldStart("install");
                    g.writeNumberField("targetVersion", i.targetVersion());
                    g.writeStringField("phase", i.state().key());
                    g.writeNumberField("stepsDone", i.state().stepsDone());
                    g.writeNumberField("bytesDownloaded", i.bytesDownloaded());
                    g.writeNumberField("healthTries", i.state().healthTries());
                    g.writeEndObject();
                }
                if (a.highestVersion() != null) {
                    g.writeNumberField("highestVersion", a.highestVersion());
                }
                if (a.lastOutcome() != null) {
                    g.writeStringField("lastOutcome", a.lastOutcome());
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeNumberField("reportsQueued", status.reportsQueued());
            g.writeNumberField("reportsDropped", status.reportsDropped());
            g.writeEndObject();
        });
    }

    private static void writeSlot(JsonGenerator g, ModelStatus.Slot slot) throws IOException {
        if (slot == null) {
            g.writeNull();
            return;
        }
        g.writeStartObject();
        g.writeStringField("slot", slot.name());
        if (slot.version() == null) {
            g.writeNullField("version");
        } else {
            g.writeNumberField("version", slot.version());
            g.writeNumberField("sizeBytes", slot.sizeBytes());
            g.writeStringField("sha256", slot.sha256());
        }
        g.writeEndObject();
    }

    /** What a sync did, and the schema version the device runs after it (a sync may upgrade it). */
    public static String syncResult(SyncResult r, int schemaVersion) {
        return render(g -> {
            g.writeStartObject();
            g.writeNumberField("pushed", r.pushed());
            g.writeNumberField("pulled", r.pulled());
            g.writeNumberField("refused", r.refused());
            g.writeNumberField("conflictsOpened", r.conflictsOpened());
            g.writeNumberField("orphans", r.orphans());
            g.writeNumberField("restamped", r.restamped());
            g.writeNumberField("backfilled", r.backfilled());
            g.writeNumberField("schemaVersion", schemaVersion);
            g.writeEndObject();
        });
    }

    /** A page of the changes feed: {@code {"changes": [...], "last": SEQ, "reset": bool}}. */
    public static String changes(RowChanges page, String scopeColumn) {
        return render(g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("changes");
            for (RowChanges.Entry e : page.changes()) {
                writeRowChange(g, e, scopeColumn);
            }
            g.writeEndArray();
            g.writeNumberField("last", page.last());
            g.writeBooleanField("reset", page.reset());
            g.writeEndObject();
        });
    }

    /** One changed row: seq, table, id, deleted, origin ("local" or "sync") and the row now (null when deleted). */
    public static String rowChange(RowChanges.Entry e, String scopeColumn) {
        return render(g -> writeRowChange(g, e, scopeColumn));
    }

    /** What {@code watch} prints when the feed dropped entries it had not shown: read the tables again. */
    public static String changesReset(long last) {
        return render(g -> {
            g.writeStartObject();
            g.writeBooleanField("reset", true);
            g.writeNumberField("last", last);
            g.writeEndObject();
        });
    }

    private static void writeRowChange(JsonGenerator g, RowChanges.Entry e, String scopeColumn) throws IOException {
        g.writeStartObject();
        g.writeNumberField("seq", e.seq());
        g.writeStringField("table", e.table());
        g.writeStringField("id", e.id());
        g.writeBooleanField("deleted", e.deleted());
        g.writeStringField("origin", e.origin());
        g.writeFieldName("row");
        if (e.row() == null) {
            g.writeNull();
        } else {
            writeRow(g, e.row(), scopeColumn);
        }
        g.writeEndObject();
    }

    /** A row a query answered: its columns by name, numbers as numbers, text as strings. */
    public static String queryRow(Map<String, Object> row) {
        return render(g -> writeQueryRow(g, row));
    }

    public static String queryRows(List<Map<String, Object>> rows) {
        return render(g -> {
            g.writeStartArray();
            for (Map<String, Object> row : rows) {
                writeQueryRow(g, row);
            }
            g.writeEndArray();
        });
    }

    private static void writeQueryRow(JsonGenerator g, Map<String, Object> row) throws IOException {
        g.writeStartObject();
        for (Map.Entry<String, Object> e : row.entrySet()) {
            g.writeFieldName(e.getKey());
            Object v = e.getValue();
            if (v == null) {
                g.writeNull();
            } else if (v instanceof Integer i) {
                g.writeNumber(i);
            } else if (v instanceof Long l) {
                g.writeNumber(l);
            } else if (v instanceof Double d) {
                g.writeNumber(d);
            } else if (v instanceof byte[] b) {
                g.writeBinary(b);
            } else {
                g.writeString(v.toString());
            }
        }
        g.writeEndObject();
    }

    /** An error as the local API answers it. */
    public static String error(String message, ExitCode code) {
        return render(g -> {
            g.writeStartObject();
            g.writeStringField("error", message);
            g.writeNumberField("exitCode", code.code);
            g.writeEndObject();
        });
    }

    /** {@code {"key": value}} with one number (small answers of the local API). */
    public static String object(String key, boolean value) {
        return render(g -> {
            g.writeStartObject();
            g.writeBooleanField(key, value);
            g.writeEndObject();
        });
    }
}
