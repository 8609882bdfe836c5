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
import dev.outpost.model.schema.Schema;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
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

    public byte[] encode(ChangeBatch batch, WireFormat format) {
        try {
            return switch (format) {
                case JSON -> {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
                        g.writeStartObject();
                        g.writeNumberField("format", FORMAT_VERSION);
                        if (batch.batchId() != null) {
                            g.writeStringField("batchId", batch.batchId());
                        }
                        g.writeFieldName("changes");
                        JsonChanges.write(g, batch.changes());
                        g.writeEndObject();
                    }
                    yield out.toByteArray();
                }
                case BINARY -> {
                    ByteArrayOutputStream body = new ByteArrayOutputStream();
                    try (JsonGenerator g = CBOR.createGenerator(body)) {
                        g.writeStartArray(null, 2);
                        if (batch.batchId() == null) {
                            g.writeNull();
                        } else {
                            g.writeString(batch.batchId());
                        }
                        BinaryChanges.write(g, batch.changes(), schema);
                        g.writeEndArray();
                    }
                    yield frame(body.toByteArray());
                }
            };
        } catch (IOException e) {
            throw new IllegalStateException("encoding to memory failed", e);
        }
    }

    public ChangeBatch decode(byte[] payload, WireFormat format) {
        if (payload.length > limits.payloadBytesMax()) {
            throw tooLarge();
        }
        try {
            return switch (format) {
                case JSON -> {
                    try (JsonParser p = JSON.createParser(payload)) {
                        yield readJson(new TokenReader(p));
                    }
                }
                case BINARY -> {
                    try (JsonParser p = CBOR.createParser(unframe(payload))) {
                        yield readBinary(new TokenReader(p));
                    }
                }
            };
        } catch (StreamConstraintsException e) {
            throw tooLarge();
        } catch (OutpostException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // Parser errors carry offsets and token names; they are for logs, not clients.
            throw TokenReader.malformed("not valid " + format.name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    private ChangeBatch readJson(TokenReader in) throws IOException {
        in.expect(JsonToken.START_OBJECT);
        Integer format = null;
        String batchId = null;
        java.util.List<dev.outpost.model.change.Change> changes = null;
        JsonToken t;
        while ((t = in.next()) != JsonToken.END_OBJECT) {
            String key = in.p.currentName();
            in.next();
            switch (key) {
                case "format" -> {
                    if (in.p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                        throw TokenReader.malformed("'format' must be an integer");
                    }
                    format = in.p.getIntValue();
                    checkVersion(format);
                }
                case "batchId" ->
                    batchId = in.p.currentToken() == JsonToken.VALUE_NULL ? null : in.p.getValueAsString();
                case "changes" -> {
                    if (format == null) {
                        throw TokenReader.malformed("'format' must come before 'changes'");
                    }
                    changes = JsonChanges.read(in, schema, limits);
                }
                default -> throw TokenReader.malformed("unknown key '" + key + "'");
            }
        }
        if (format == null || changes == null) {
            throw TokenReader.malformed("a message needs 'format' and 'changes'");
        }
        return new ChangeBatch(batchId, changes);
    }

    private ChangeBatch readBinary(TokenReader in) throws IOException {
        in.expect(JsonToken.START_ARRAY);
        String batchId = in.nextTextOrNull();
        in.next();
        var changes = BinaryChanges.read(in, schema, limits);
        in.expect(JsonToken.END_ARRAY);
        return new ChangeBatch(batchId, changes);
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
