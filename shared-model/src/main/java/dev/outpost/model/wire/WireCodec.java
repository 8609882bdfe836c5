package dev.outpost.model.wire;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.merge.Conflict;
import dev.outpost.model.schema.Schema;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * Encodes and decodes wire messages in both formats. Binary messages start with a 4-byte header: {@code 'O' 'P'},
 * the format version, and flags (bit 0: the body is raw DEFLATE). JSON messages carry {@code "format": 1}. A payload
 * of another version is refused with {@link ErrorCode#UNSUPPORTED_FORMAT_VERSION}; anything unreadable with
 * {@link ErrorCode#MALFORMED_PAYLOAD}; values are checked against the schema's column types while decoding.
 *
 * <p>Thread-safe; one instance per schema.
 */
public final class WireCodec {
    /** The one format version this build reads and writes. */
    public static final int FORMAT_VERSION = 1;

    static final byte MAGIC_0 = 'O';
    static final byte MAGIC_1 = 'P';
    static final int HEADER_BYTES = 4;
    static final int FLAG_DEFLATE = 1;

    private static final JsonFactory JSON = new JsonFactory();
    private static final CBORFactory CBOR = new CBORFactory();

    private final Schema schema;
    private final WireLimits limits;

    public WireCodec(Schema schema, WireLimits limits) {
        this.schema = Objects.requireNonNull(schema);
        this.limits = Objects.requireNonNull(limits);
    }

    public Schema schema() {
        return schema;
    }

    public WireLimits limits() {
        return limits;
    }

    /** Writes one message body; {@code binary} tells value and change writers which form to use. */
    @FunctionalInterface
    private interface BodyWriter {
        void write(JsonGenerator g, boolean binary) throws IOException;
    }

    /** Reads one key of a message body whose value token is current; returns false for an unknown key. */
    @FunctionalInterface
    private interface KeyReader {
        boolean read(String key, TokenReader in, boolean binary) throws IOException;
    }

    public byte[] encode(ChangeBatch batch, WireFormat format) {
        return write(format, (g, binary) -> {
            if (batch.batchId() != null) {
                g.writeStringField("batchId", batch.batchId());
            }
            writeChanges(g, binary, batch.changes());
        });
    }

    public ChangeBatch decode(byte[] payload, WireFormat format) {
        String[] batchId = {null};
        List<Change>[] changes = newChanges();
        read(payload, format, (key, in, binary) -> switch (key) {
            case "batchId" -> {
                batchId[0] = textOrNull(in);
                yield true;
            }
            case "changes" -> {
                changes[0] = readChanges(in, binary);
                yield true;
            }
            default -> false;
        });
        return new ChangeBatch(batchId[0], require(changes[0], "changes"));
    }

    public byte[] encode(SyncRequest request, WireFormat format) {
        return write(format, (g, binary) -> {
            g.writeStringField("deviceId", request.deviceId());
            g.writeNumberField("schemaVersion", request.schemaVersion());
            if (request.batchId() != null) {
                g.writeStringField("batchId", request.batchId());
            }
            if (request.cursor() != null) {
                g.writeStringField("cursor", request.cursor());
            }
            if (request.pageSizeMax() > 0) {
                g.writeNumberField("pageSizeMax", request.pageSizeMax());
            }
            if (request.backfillFrom() > 0) {
                g.writeNumberField("backfillFrom", request.backfillFrom());
            }
            if (request.rebuild()) {
                g.writeBooleanField("rebuild", true);
            }
            writeChanges(g, binary, request.changes());
        });
    }

    public SyncRequest decodeRequest(byte[] payload, WireFormat format) {
        String[] text = new String[3]; // deviceId, batchId, cursor
        long[] numbers = {-1, 0, 0}; // schemaVersion, pageSizeMax, backfillFrom
        boolean[] rebuild = {false};
        List<Change>[] changes = newChanges();
        read(payload, format, (key, in, binary) -> {
            switch (key) {
                case "deviceId" -> text[0] = textOrNull(in);
                case "batchId" -> text[1] = textOrNull(in);
                case "cursor" -> text[2] = textOrNull(in);
                case "schemaVersion" -> numbers[0] = integer(in, key);
                case "pageSizeMax" -> numbers[1] = integer(in, key);
                case "backfillFrom" -> numbers[2] = integer(in, key);
                case "rebuild" -> {
                    JsonToken t = in.p.currentToken();
                    if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
                        throw TokenReader.malformed("'rebuild' must be true or false");
                    }
                    rebuild[0] = t == JsonToken.VALUE_TRUE;
                }
                case "changes" -> changes[0] = readChanges(in, binary);
                default -> {
                    return false;
                }
            }
            return true;
        });
        if (text[0] == null || numbers[0] < 0) {
            throw TokenReader.malformed("a sync request needs deviceId and schemaVersion");
        }
        List<Change> pushed = changes[0] == null ? List.of() : changes[0];
        if (!pushed.isEmpty() && text[1] == null) {
            throw TokenReader.malformed("a sync request that pushes changes needs a batchId");
        }
        if (numbers[2] < 0 || numbers[2] > Integer.MAX_VALUE || (numbers[2] > 0 && !pushed.isEmpty())) {
            throw TokenReader.malformed("'backfillFrom' is a schema version, and a backfill pushes nothing");
        }
        return new SyncRequest(
                text[0],
                (int) Math.min(numbers[0], Integer.MAX_VALUE),
                text[1],
                text[2],
                (int) Math.min(numbers[1], Integer.MAX_VALUE),
                pushed,
                (int) numbers[2],
                rebuild[0]);
    }

    public byte[] encode(SyncResponse response, WireFormat format) {
        return write(format, (g, binary) -> {
            if (response.ack() != null) {
                g.writeObjectFieldStart("ack");
                g.writeStringField("batchId", response.ack().batchId());
                g.writeNumberField("applied", response.ack().applied());
                g.writeBooleanField("duplicate", response.ack().duplicate());
                g.writeEndObject();
            }
            g.writeStringField("cursor", response.cursor());
            g.writeBooleanField("more", response.more());
            g.writeNumberField("serverTimeMs", response.serverTimeMs());
            if (!response.modelAssignments().isEmpty()) {
                g.writeArrayFieldStart("modelAssignments");
                for (String a : response.modelAssignments()) {
                    g.writeString(a);
                }
                g.writeEndArray();
            }
            writeChanges(g, binary, response.changes());
            g.writeFieldName("conflicts");
            ConflictCodec.write(g, response.conflicts(), binary, schema);
        });
    }

    public SyncResponse decodeResponse(byte[] payload, WireFormat format) {
        SyncResponse.Ack[] ack = {null};
        String[] text = new String[1]; // cursor
        List<String> assignments = new ArrayList<>();
        boolean[] more = {false};
        long[] serverTime = {-1};
        List<Change>[] changes = newChanges();
        List<List<Conflict>> conflicts = new ArrayList<>(List.of(List.of()));
        read(payload, format, (key, in, binary) -> {
            switch (key) {
                case "ack" -> ack[0] = readAck(in);
                case "cursor" -> text[0] = textOrNull(in);
                case "modelAssignments" -> {
                    if (in.p.currentToken() != JsonToken.START_ARRAY) {
                        throw TokenReader.malformed("'modelAssignments' must be an array of strings");
                    }
                    while (in.next() != JsonToken.END_ARRAY) {
                        String a = textOrNull(in);
                        if (a == null || assignments.size() >= 64) {
                            throw TokenReader.malformed("'modelAssignments' holds at most 64 strings");
                        }
                        assignments.add(a);
                    }
                }
                case "more" -> more[0] = in.p.currentToken() == JsonToken.VALUE_TRUE;
                case "serverTimeMs" -> serverTime[0] = integer(in, key);
                case "changes" -> changes[0] = readChanges(in, binary);
                case "conflicts" -> conflicts.set(0, ConflictCodec.read(in, binary, schema));
                default -> {
                    return false;
                }
            }
            return true;
        });
        if (text[0] == null || serverTime[0] < 0) {
            throw TokenReader.malformed("a sync response needs cursor and serverTimeMs");
        }
        return new SyncResponse(
                ack[0],
                text[0],
                more[0],
                serverTime[0],
                assignments,
                require(changes[0], "changes"),
                conflicts.getFirst());
    }

    /**
     * Changes as the service's feed stores them: a binary message holding just the list, not deflated (the database
     * compresses what it stores out of line, and a push must not pay for compression twice).
     */
    public byte[] encodeStored(List<Change> changes) {
        return write(WireFormat.BINARY, (g, binary) -> writeChanges(g, binary, changes), false);
    }

    public List<Change> decodeStored(byte[] stored) {
        return decode(stored, WireFormat.BINARY).changes();
    }

    /** One change as a JSON object (the device's change log; feed rows written before V7). */
    public String encodeChange(Change change) {
        return json(g -> JsonChanges.write(g, List.of(change)));
    }

    public Change decodeChange(String json) {
        List<Change> one = parseJson(json, in -> JsonChanges.read(in, schema, limits));
        if (one.size() != 1) {
            throw TokenReader.malformed("expected exactly one change");
        }
        return one.getFirst();
    }

    /** Conflicts as a JSON array (the conflict table's stored form and the admin API's). */
    public String encodeConflicts(List<Conflict> conflicts) {
        return json(g -> ConflictCodec.write(g, conflicts, false, schema));
    }

    public List<Conflict> decodeConflicts(String json) {
        return parseJson(json, in -> ConflictCodec.read(in, false, schema));
    }

    /** A value for {@code table.field} from JSON text, typed by the column (e.g. an admin's resolution). */
    public FieldValue decodeValue(String table, String field, String json) {
        var column = schema.column(table, field);
        return parseJson(json, in -> ValueCodec.readJson(in.p, column.type(), table + "." + field));
    }

    /** A value as JSON text. */
    public static String encodeValue(FieldValue value) {
        return json(g -> ValueCodec.writeJson(g, value));
    }

    @FunctionalInterface
    private interface JsonWriting {
        void write(JsonGenerator g) throws IOException;
    }

    @FunctionalInterface
    private interface JsonReading<T> {
        T read(TokenReader in) throws IOException;
    }

    private static String json(JsonWriting body) {
        try {
            java.io.StringWriter out = new java.io.StringWriter();
            try (JsonGenerator g = JSON.createGenerator(out)) {
                body.write(g);
            }
            return out.toString();
        } catch (IOException e) {
            throw new IllegalStateException("encoding to memory failed", e);
        }
    }

    private static <T> T parseJson(String json, JsonReading<T> body) {
        try (JsonParser p = JSON.createParser(json)) {
            TokenReader in = new TokenReader(p);
            in.next();
            return body.read(in);
        } catch (OutpostException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw TokenReader.malformed("not valid JSON");
        }
    }

    private SyncResponse.Ack readAck(TokenReader in) throws IOException {
        if (in.p.currentToken() != JsonToken.START_OBJECT) {
            throw TokenReader.malformed("'ack' must be an object");
        }
        String batchId = null;
        long applied = 0;
        boolean duplicate = false;
        while (in.next() != JsonToken.END_OBJECT) {
            String key = in.p.currentName();
            in.next();
            switch (key) {
                case "batchId" -> batchId = textOrNull(in);
                case "applied" -> applied = integer(in, key);
                case "duplicate" -> duplicate = in.p.currentToken() == JsonToken.VALUE_TRUE;
                default -> throw TokenReader.malformed("unknown key 'ack." + key + "'");
            }
        }
        return new SyncResponse.Ack(batchId, (int) Math.min(applied, Integer.MAX_VALUE), duplicate);
    }

    private void writeChanges(JsonGenerator g, boolean binary, List<Change> changes) throws IOException {
        g.writeFieldName("changes");
        if (binary) {
            BinaryChanges.write(g, changes, schema);
        } else {
            JsonChanges.write(g, changes);
        }
    }

    private List<Change> readChanges(TokenReader in, boolean binary) throws IOException {
        return binary ? BinaryChanges.read(in, schema, limits) : JsonChanges.read(in, schema, limits);
    }

    @SuppressWarnings("unchecked")
    private static List<Change>[] newChanges() {
        return new List[1];
    }

    private static <T> T require(T value, String key) {
        if (value == null) {
            throw TokenReader.malformed("missing '" + key + "'");
        }
        return value;
    }

    private static String textOrNull(TokenReader in) throws IOException {
        JsonToken t = in.p.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t != JsonToken.VALUE_STRING) {
            throw TokenReader.malformed("expected a string, found " + TokenReader.describe(t));
        }
        return in.p.getText();
    }

    private static long integer(TokenReader in, String key) throws IOException {
        if (in.p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
            throw TokenReader.malformed("'" + key + "' must be an integer");
        }
        long v = in.p.getLongValue();
        if (v < 0) {
            throw TokenReader.malformed("'" + key + "' must not be negative");
        }
        return v;
    }

    private byte[] write(WireFormat format, BodyWriter body) {
        return write(format, body, true);
    }

    private byte[] write(WireFormat format, BodyWriter body, boolean deflate) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            boolean binary = format == WireFormat.BINARY;
            if (binary && !deflate) {
                // The header with no flags, then the body as the generator writes it: no second copy.
                out.write(new byte[] {MAGIC_0, MAGIC_1, FORMAT_VERSION, 0});
            }
            try (JsonGenerator g = binary ? CBOR.createGenerator(out) : JSON.createGenerator(out, JsonEncoding.UTF8)) {
                g.writeStartObject();
                g.writeNumberField("format", FORMAT_VERSION);
                body.write(g, binary);
                g.writeEndObject();
            }
            return binary && deflate ? frame(out.toByteArray()) : out.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("encoding to memory failed", e);
        }
    }

    private void read(byte[] payload, WireFormat format, KeyReader keys) {
        if (payload.length > limits.payloadBytesMax()) {
            throw tooLarge();
        }
        boolean binary = format == WireFormat.BINARY;
        try (JsonParser p = binary ? CBOR.createParser(unframe(payload)) : JSON.createParser(payload)) {
            TokenReader in = new TokenReader(p);
            in.expect(JsonToken.START_OBJECT);
            boolean versionSeen = false;
            while (in.next() != JsonToken.END_OBJECT) {
                if (in.p.currentToken() != JsonToken.FIELD_NAME) {
                    throw TokenReader.malformed("expected a key");
                }
                String key = in.p.currentName();
                in.next();
                if (key.equals("format")) {
                    checkVersion((int) Math.min(integer(in, key), Integer.MAX_VALUE));
                    versionSeen = true;
                } else if (!versionSeen) {
                    throw TokenReader.malformed("'format' must come first");
                } else if (!keys.read(key, in, binary)) {
                    throw TokenReader.malformed("unknown key '" + key + "'");
                }
            }
            if (!versionSeen) {
                throw TokenReader.malformed("missing 'format'");
            }
            if (p.nextToken() != null) {
                throw TokenReader.malformed("trailing data after the message");
            }
        } catch (StreamConstraintsException e) {
            throw tooLarge();
        } catch (OutpostException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // Parser errors carry offsets and token names; they are for logs, not clients.
            throw TokenReader.malformed("not valid " + (binary ? "binary" : "JSON"));
        }
    }

    private static void checkVersion(int version) {
        if (version != FORMAT_VERSION) {
            throw new OutpostException(
                    ErrorCode.UNSUPPORTED_FORMAT_VERSION,
                    "wire format version " + version + " is not supported (this side speaks version " + FORMAT_VERSION
                            + ")");
        }
    }

    private static byte[] frame(byte[] body) {
        Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION, true);
        try {
            deflater.setInput(body);
            deflater.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(body.length / 3 + 16);
            out.write(MAGIC_0);
            out.write(MAGIC_1);
            out.write(FORMAT_VERSION);
            out.write(FLAG_DEFLATE);
            byte[] buf = new byte[8192];
            while (!deflater.finished()) {
                out.write(buf, 0, deflater.deflate(buf));
            }
            return out.toByteArray();
        } finally {
            deflater.end();
        }
    }

    private InputStream unframe(byte[] payload) {
        if (payload.length < HEADER_BYTES || payload[0] != MAGIC_0 || payload[1] != MAGIC_1) {
            throw TokenReader.malformed("not an Outpost binary message (bad header)");
        }
        checkVersion(payload[2] & 0xFF);
        int flags = payload[3] & 0xFF;
        if ((flags & ~FLAG_DEFLATE) != 0) {
            throw TokenReader.malformed("unknown header flags " + flags);
        }
        if ((flags & FLAG_DEFLATE) == 0) {
            return new java.io.ByteArrayInputStream(payload, HEADER_BYTES, payload.length - HEADER_BYTES);
        }
        return new java.io.ByteArrayInputStream(inflate(payload));
    }

    /** Inflates the body, refusing to grow past the payload limit (a small bomb must not cost memory). */
    private byte[] inflate(byte[] payload) {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(payload, HEADER_BYTES, payload.length - HEADER_BYTES);
            ByteArrayOutputStream out =
                    new ByteArrayOutputStream(Math.min(payload.length * 4, limits.payloadBytesMax()));
            byte[] buf = new byte[16 * 1024];
            while (!inflater.finished()) {
                int n = inflater.inflate(buf);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw TokenReader.malformed("compressed body ends early");
                }
                if (out.size() + n > limits.payloadBytesMax()) {
                    throw tooLarge();
                }
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw TokenReader.malformed("compressed body is corrupt");
        } finally {
            inflater.end();
        }
    }

    private OutpostException tooLarge() {
        return new OutpostException(
                ErrorCode.PAYLOAD_TOO_LARGE, "payload larger than " + limits.payloadBytesMax() + " bytes");
    }
}
