package dev.outpost.model.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.SchemaLoader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class WireCodecTest {
    private static final String DISTRICT = "nakuru";
    private final WireCodec codec = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);

    /** One change of every op and every value type, with clocks from three devices. */
    static ChangeBatch everyKindOfChange() {
        Hlc a = new Hlc(1_763_871_813_123L, 0, "officer-a");
        Hlc a2 = new Hlc(1_763_871_813_123L, 1, "officer-a");
        Hlc b = new Hlc(1_763_871_700_000L, 3, "officer-b");
        String crop = "0190f5b4-7a3c-7c1e-9c2f-3b1d6e8a9f10";
        String plot = "0190f5b4-7a3c-7c1e-9c2f-3b1d6e8a9f11";
        List<Change> changes = List.of(
                new Change(
                        "farmer",
                        "farmer-17",
                        DISTRICT,
                        "name",
                        new Op.Assign(new FieldValue.Text("Wanjiru \"Mama\" Kamau")),
                        a),
                new Change(
                        "farmer",
                        "farmer-17",
                        DISTRICT,
                        "phone",
                        new Op.Assign(new FieldValue.Text("+254700000001"), List.of(b)),
                        a),
                new Change("plot", plot, DISTRICT, "farmer_id", new Op.Assign(new FieldValue.Text("farmer-17")), a),
                new Change(
                        "plot",
                        plot,
                        DISTRICT,
                        "area_ha",
                        new Op.Assign(new FieldValue.Decimal(new BigDecimal("1.250"))),
                        a),
                new Change("plot", plot, DISTRICT, "soil_type", new Op.Assign(FieldValue.NULL), a),
                new Change(
                        "crop_record",
                        crop,
                        DISTRICT,
                        "plot_id",
                        new Op.Assign(new FieldValue.Text("0190f5b4-7a3c-7c1e-9c2f-3b1d6e8a9f12")),
                        a2),
                new Change(
                        "crop_record",
                        crop,
                        DISTRICT,
                        "planted_on",
                        new Op.Assign(new FieldValue.Date(LocalDate.of(2026, 3, 10))),
                        a2),
                new Change("crop_record", crop, DISTRICT, "stage", new Op.Assign(new FieldValue.Int(4)), a2),
                new Change("crop_record", crop, DISTRICT, "bags_harvested", new Op.CounterTotal(-3), a2),
                new Change("crop_record", crop, DISTRICT, "pests", new Op.SetAdd("fall armyworm"), a2),
                new Change("crop_record", crop, DISTRICT, "pests", new Op.SetRemove("aphids", List.of(b, a)), a2),
                new Change(
                        "crop_record",
                        crop,
                        DISTRICT,
                        "yield_kg",
                        new Op.Assign(new FieldValue.Decimal(new BigDecimal("1350.5")), List.of(a, b)),
                        a2),
                new Change(
                        "crop_record",
                        "legacy id.7",
                        "kericho",
                        null,
                        Op.Delete.of(Map.of("notes", List.of(b), "stage", List.of(a, b))),
                        b),
                new Change("crop_record", "legacy id.7".replace(' ', '-'), "kericho", null, new Op.Restore(b), b));
        return new ChangeBatch("batch-0001", changes);
    }

    @ParameterizedTest
    @EnumSource(WireFormat.class)
    void everyKindOfChangeRoundTripsExactly(WireFormat format) {
        ChangeBatch batch = everyKindOfChange();
        ChangeBatch back = codec.decode(codec.encode(batch, format), format);
        assertEquals(batch, back);
    }

    @ParameterizedTest
    @EnumSource(WireFormat.class)
    void syncRequestsAndResponsesRoundTripExactly(WireFormat format) {
        ChangeBatch batch = everyKindOfChange();
        SyncRequest request = new SyncRequest("officer-a", 1, "batch-0001", "812:44", 500, batch.changes());
        assertEquals(request, codec.decodeRequest(codec.encode(request, format), format));
        SyncRequest pullOnly = new SyncRequest("officer-a", 1, null, null, 0, List.of());
        assertEquals(pullOnly, codec.decodeRequest(codec.encode(pullOnly, format), format));
        SyncRequest rebuilding = new SyncRequest("officer-a", 1, "batch-0002", "812:44", 0, batch.changes(), 0, true);
        SyncRequest back = codec.decodeRequest(codec.encode(rebuilding, format), format);
        assertEquals(rebuilding, back);
        assertTrue(back.rebuild(), "a rebuilding device's pull asks for its own changes");

        Hlc a = new Hlc(1_763_871_813_123L, 0, "officer-a");
        Hlc b = new Hlc(1_763_871_813_123L, 0, "officer-b");
        List<dev.outpost.model.merge.Conflict> conflicts = List.of(
                new dev.outpost.model.merge.Conflict(
                        "crop_record",
                        "c1",
                        "yield_kg",
                        dev.outpost.model.merge.Conflict.Kind.CONCURRENT_WRITES,
                        List.of(
                                new dev.outpost.model.merge.Conflict.Candidate(
                                        "yield_kg", new FieldValue.Decimal(new BigDecimal("1350.50")), b, false),
                                new dev.outpost.model.merge.Conflict.Candidate(
                                        "yield_kg", new FieldValue.Decimal(new BigDecimal("1200")), a, false))),
                new dev.outpost.model.merge.Conflict(
                        "crop_record",
                        "c2",
                        null,
                        dev.outpost.model.merge.Conflict.Kind.DELETE_VS_UPDATE,
                        List.of(
                                new dev.outpost.model.merge.Conflict.Candidate(null, null, b, true),
                                new dev.outpost.model.merge.Conflict.Candidate(
                                        "bags_harvested", new FieldValue.Int(7), a, false),
                                new dev.outpost.model.merge.Conflict.Candidate(
                                        "pests", new FieldValue.Json("[\"aphids\"]"), a, false))));
        SyncResponse response = new SyncResponse(
                new SyncResponse.Ack("batch-0001", 13, false),
                "900:3",
                true,
                1_763_871_900_000L,
                List.of("T1BTRQE=", "T1BTRQI="),
                batch.changes(),
                conflicts);
        assertEquals(response, codec.decodeResponse(codec.encode(response, format), format));
        SyncResponse empty = new SyncResponse(null, "0:0", false, 5L, List.of(), List.of(), List.of());
        assertEquals(empty, codec.decodeResponse(codec.encode(empty, format), format));
    }

    @Test
    void timestampAndJsonColumnsRoundTrip() {
        var schema = SchemaLoader.parse("""
                version: 1
                scope: district
                tables:
                  visit: {columns: {at: timestamp, extra: json, done: bool}}
                """);
        WireCodec c = new WireCodec(schema, WireLimits.DEFAULT);
        Hlc h = new Hlc(5, 0, "d");
        ChangeBatch batch = new ChangeBatch(
                null,
                List.of(
                        new Change(
                                "visit",
                                "v1",
                                "x",
                                "at",
                                new Op.Assign(new FieldValue.Timestamp(Instant.parse("2026-11-23T04:23:33.120Z"))),
                                h),
                        new Change(
                                "visit",
                                "v1",
                                "x",
                                "extra",
                                new Op.Assign(new FieldValue.Json("{\"gps\":[-0.3,36.1],\"ok\":true}")),
                                h),
                        new Change("visit", "v1", "x", "done", new Op.Assign(new FieldValue.Bool(true)), h)));
        for (WireFormat f : WireFormat.values()) {
            assertEquals(batch, c.decode(c.encode(batch, f), f));
        }
    }

    @ParameterizedTest
    @EnumSource(WireFormat.class)
    void goldenFixturesDecodeToTheKnownBatch(WireFormat format) throws IOException {
        String name = "/wire/v1/every-kind-of-change." + (format == WireFormat.JSON ? "json" : "bin");
        try (InputStream in = getClass().getResourceAsStream(name)) {
            assertTrue(in != null, "missing fixture " + name);
            assertEquals(everyKindOfChange(), codec.decode(in.readAllBytes(), format));
        }
    }

    @Test
    void binaryIsSmallerThanJson() {
        ChangeBatch batch = everyKindOfChange();
        int json = codec.encode(batch, WireFormat.JSON).length;
        int binary = codec.encode(batch, WireFormat.BINARY).length;
        assertTrue(binary * 2 < json, "binary " + binary + " vs json " + json);
    }

    @Test
    void theStoredFormRoundTripsUndeflatedAndIsCheckedLikeAnyPayload() {
        List<Change> changes = everyKindOfChange().changes();
        byte[] stored = codec.encodeStored(changes);

        assertEquals(changes, codec.decodeStored(stored));
        assertEquals(0, stored[3], "no DEFLATE flag: the database compresses stored values itself");
        byte[] deflated = codec.encode(new ChangeBatch(null, changes), WireFormat.BINARY);
        assertEquals(changes, codec.decodeStored(deflated), "a deflated message reads the same");
        byte[] cut = java.util.Arrays.copyOf(stored, stored.length - 3);
        assertCode(ErrorCode.MALFORMED_PAYLOAD, cut, WireFormat.BINARY, "not valid binary");
    }

    @Test
    void anUnknownFormatVersionIsRefusedClearly() {
        byte[] binary = codec.encode(everyKindOfChange(), WireFormat.BINARY);
        binary[2] = 2;
        assertCode(ErrorCode.UNSUPPORTED_FORMAT_VERSION, binary, WireFormat.BINARY, "version 2 is not supported");
        String json = new String(codec.encode(everyKindOfChange(), WireFormat.JSON), StandardCharsets.UTF_8)
                .replace("\"format\":1", "\"format\":7");
        assertCode(
                ErrorCode.UNSUPPORTED_FORMAT_VERSION,
                json.getBytes(StandardCharsets.UTF_8),
                WireFormat.JSON,
                "version 7");
    }

    @Test
    void malformedPayloadsAreRefusedWithoutLeakingParserDetails() {
        assertCode(
                ErrorCode.MALFORMED_PAYLOAD,
                "{\"format\":1,\"changes\":[{".getBytes(StandardCharsets.UTF_8),
                WireFormat.JSON,
                "malformed");
        assertCode(
                ErrorCode.MALFORMED_PAYLOAD, "not json".getBytes(StandardCharsets.UTF_8), WireFormat.JSON, "malformed");
        assertCode(ErrorCode.MALFORMED_PAYLOAD, new byte[] {'X', 'Y', 1, 1, 0}, WireFormat.BINARY, "bad header");
        byte[] good = codec.encode(everyKindOfChange(), WireFormat.BINARY);
        byte[] truncated = Arrays.copyOf(good, good.length / 2);
        OutpostException e =
                assertCode(ErrorCode.MALFORMED_PAYLOAD, truncated, WireFormat.BINARY, "malformed payload: ");
        assertTrue(
                e.getMessage().length() > "malformed payload: ".length(), "it says what is wrong: " + e.getMessage());
        assertTrue(!e.getMessage().contains("com.fasterxml") && !e.getMessage().contains("Exception"), e.getMessage());
    }

    @Test
    void schemaViolationsInAPayloadAreNamed() {
        String base =
                "{\"format\":1,\"changes\":[{\"table\":\"crop_record\",\"id\":\"c1\",\"scope\":\"n\",\"clock\":\"5:0:d\",\"op\":\"assign\",";
        assertCode(
                ErrorCode.TYPE_MISMATCH,
                (base + "\"field\":\"stage\",\"value\":\"three\"}]}").getBytes(StandardCharsets.UTF_8),
                WireFormat.JSON,
                "crop_record/c1.stage");
        assertCode(
                ErrorCode.TYPE_MISMATCH,
                (base + "\"field\":\"planted_on\",\"value\":\"10/03/2026\"}]}").getBytes(StandardCharsets.UTF_8),
                WireFormat.JSON,
                "planted_on");
        assertCode(
                ErrorCode.UNKNOWN_FIELD,
                (base + "\"field\":\"colour\",\"value\":\"red\"}]}").getBytes(StandardCharsets.UTF_8),
                WireFormat.JSON,
                "crop_record.colour");
        assertCode(
                ErrorCode.UNKNOWN_TABLE,
                base.replace("crop_record", "cow")
                        .concat("\"field\":\"x\",\"value\":1}]}")
                        .getBytes(StandardCharsets.UTF_8),
                WireFormat.JSON,
                "'cow'");
        assertCode(
                ErrorCode.INVALID_CLOCK,
                base.replace("5:0:d", "yesterday")
                        .concat("\"field\":\"notes\",\"value\":\"x\"}]}")
                        .getBytes(StandardCharsets.UTF_8),
                WireFormat.JSON,
                "yesterday");
    }

    @Test
    void limitsAreEnforcedBeforeMemoryIsSpent() {
        WireCodec small = new WireCodec(SchemaLoader.farmExample(), new WireLimits(4096, 5));
        ChangeBatch batch = everyKindOfChange();
        assertCode(small, ErrorCode.BATCH_TOO_LARGE, codec.encode(batch, WireFormat.BINARY), WireFormat.BINARY);
        assertCode(small, ErrorCode.BATCH_TOO_LARGE, codec.encode(batch, WireFormat.JSON), WireFormat.JSON);
        assertCode(small, ErrorCode.PAYLOAD_TOO_LARGE, new byte[5000], WireFormat.JSON);

        // A deflate bomb: 100 KB of zeros squeezed into a few hundred bytes must not be inflated past the limit.
        Deflater d = new Deflater(9, true);
        d.setInput(new byte[100_000]);
        d.finish();
        ByteArrayOutputStream bomb = new ByteArrayOutputStream();
        bomb.write('O');
        bomb.write('P');
        bomb.write(1);
        bomb.write(1);
        byte[] buf = new byte[4096];
        while (!d.finished()) {
            bomb.write(buf, 0, d.deflate(buf));
        }
        assertTrue(bomb.size() < 1000);
        assertCode(small, ErrorCode.PAYLOAD_TOO_LARGE, bomb.toByteArray(), WireFormat.BINARY);
    }

    @Test
    void manyChangesRoundTripInBothFormats() {
        List<Change> changes = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            Hlc h = new Hlc(1_763_000_000_000L + i * 997L, i % 3, "d" + (i % 4));
            changes.add(new Change(
                    "crop_record", "row-" + (i % 50), "nakuru", "stage", new Op.Assign(new FieldValue.Int(i)), h));
        }
        ChangeBatch batch = new ChangeBatch("b", changes);
        for (WireFormat f : WireFormat.values()) {
            assertEquals(batch, codec.decode(codec.encode(batch, f), f));
        }
    }

    private OutpostException assertCode(ErrorCode code, byte[] payload, WireFormat format, String inMessage) {
        OutpostException e = assertThrows(OutpostException.class, () -> codec.decode(payload, format));
        assertEquals(code, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains(inMessage), e.getMessage());
        return e;
    }

    private static void assertCode(WireCodec c, ErrorCode code, byte[] payload, WireFormat format) {
        OutpostException e = assertThrows(OutpostException.class, () -> c.decode(payload, format));
        assertEquals(code, e.code(), e.getMessage());
    }
}
