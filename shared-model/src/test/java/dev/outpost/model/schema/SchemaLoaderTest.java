package dev.outpost.model.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.util.List;
import org.junit.jupiter.api.Test;

class SchemaLoaderTest {
    private static final String MINIMAL = """
            version: 1
            scope: district
            tables:
              farmer:
                columns: {name: text}
            """;

    @Test
    void exampleSchemaLoadsWithEveryPolicy() {
        Schema s = SchemaLoader.farmExample();
        assertEquals(1, s.version());
        assertEquals("district", s.scopeColumn());
        assertEquals(
                List.of("farmer", "plot", "crop_record"), List.copyOf(s.tables().keySet()));
        Table crop = s.table("crop_record");
        assertEquals(MergePolicy.MAX, crop.columns().get("stage").merge());
        assertEquals(MergePolicy.COUNTER, crop.columns().get("bags_harvested").merge());
        assertEquals(MergePolicy.SET, crop.columns().get("pests").merge());
        assertEquals(MergePolicy.REVIEW, crop.columns().get("yield_kg").merge());
        assertEquals(MergePolicy.LWW, crop.columns().get("notes").merge());
        assertEquals("plot", crop.columns().get("plot_id").refTable());
        assertEquals(DeletePolicy.REVIEW, crop.onDeleteVsUpdate());
        assertEquals(MergePolicy.REVIEW, s.column("farmer", "phone").merge());
    }

    @Test
    void parentFirstOrderPutsReferencedTablesFirst() {
        Schema s = SchemaLoader.parse("""
                version: 1
                scope: district
                tables:
                  crop_record: {columns: {plot_id: {type: ref, to: plot}}}
                  plot: {columns: {farmer_id: {type: ref, to: farmer}, parent: {type: ref, to: plot}}}
                  farmer: {columns: {name: text}}
                """);
        assertEquals(List.of("farmer", "plot", "crop_record"), s.parentFirstOrder());
    }

    @Test
    void unknownTypeIsNamed() {
        assertInvalid(MINIMAL.replace("name: text", "name: txt"), "tables.farmer.columns.name", "unknown type 'txt'");
    }

    @Test
    void referenceToMissingTableIsNamed() {
        assertInvalid(
                MINIMAL.replace("name: text", "plot_id: {type: ref, to: plots}"),
                "tables.farmer.columns.plot_id",
                "references missing table 'plots'");
    }

    @Test
    void mergePolicyThatDoesNotFitTheTypeIsNamed() {
        assertInvalid(
                MINIMAL.replace("name: text", "name: {type: text, merge: counter}"),
                "tables.farmer.columns.name",
                "merge policy 'counter' does not fit type 'text'");
        assertInvalid(
                MINIMAL.replace("name: text", "ok: {type: bool, merge: max}"),
                "tables.farmer.columns.ok",
                "merge policy 'max' does not fit type 'bool'");
        assertInvalid(
                MINIMAL.replace("name: text", "tags: {type: set, merge: lww}"),
                "tables.farmer.columns.tags",
                "merge policy 'lww' does not fit type 'set'");
    }

    @Test
    void missingScopeIsRefused() {
        assertInvalid(MINIMAL.replace("scope: district\n", ""), "scope", "missing");
    }

    @Test
    void refWithoutTargetUnknownKeysAndReservedNamesAreRefused() {
        assertInvalid(MINIMAL.replace("name: text", "p: {type: ref}"), "tables.farmer.columns.p", "needs 'to: TABLE'");
        assertInvalid(MINIMAL.replace("name: text", "name: {type: text, mrege: max}"), "mrege", "unknown key");
        assertInvalid(MINIMAL.replace("name: text", "id: text"), "tables.farmer.columns.id", "implicit");
        assertInvalid(MINIMAL.replace("name: text", "district: text"), "district", "implicit");
        assertInvalid("version: 1\nscope: [a\n", "(file)", "not valid YAML");
        assertInvalid(MINIMAL.replace("version: 1", "version: one"), "version", "positive integer");
    }

    @Test
    void additiveChangesAreCompatibleAndRemovalsAreNot() {
        Schema v1 = SchemaLoader.parse(MINIMAL);
        Schema v2 = SchemaLoader.parse(
                MINIMAL.replace("version: 1", "version: 2").replace("name: text", "name: text, village: text")
                        + "  plot:\n    columns: {area_ha: decimal}\n");
        assertEquals(List.of(), v2.incompatibilitiesWith(v1));
        List<String> problems = v1.incompatibilitiesWith(v2);
        assertTrue(problems.contains("table 'plot' was removed"), problems.toString());
        assertTrue(problems.contains("column 'farmer.village' was removed"), problems.toString());
        Schema retyped = SchemaLoader.parse(MINIMAL.replace("name: text", "name: int"));
        assertEquals(List.of("column 'farmer.name' changed type or merge policy"), retyped.incompatibilitiesWith(v1));
    }

    @Test
    void indexedColumnsAreDeclaredCheckedAndNeverAnIncompatibility() {
        Schema farm = SchemaLoader.farmExample();
        assertTrue(farm.column("farmer", "village").indexed(), "the example indexes villages");
        assertTrue(!farm.column("farmer", "name").indexed());
        Schema plain = SchemaLoader.parse(MINIMAL);
        Schema indexed = SchemaLoader.parse(MINIMAL.replace("name: text", "name: {type: text, index: true}"));
        assertTrue(indexed.column("farmer", "name").indexed());
        assertEquals(List.of(), indexed.incompatibilitiesWith(plain));
        assertEquals(List.of(), plain.incompatibilitiesWith(indexed));
        assertTrue(SchemaLoader.parseJson(SchemaLoader.toJson(indexed))
                .column("farmer", "name")
                .indexed());
        assertInvalid(
                MINIMAL.replace("name: text", "name: {type: text, index: yes please}"),
                "tables.farmer.columns.name.index",
                "true or false");
        assertInvalid(
                MINIMAL.replace("name: text", "tags: {type: set, index: true}"),
                "tables.farmer.columns.tags.index",
                "cannot be indexed");
    }

    @Test
    void theJsonFormReadsBackAsTheSameSchemaWithTheSameChecks() {
        Schema farm = SchemaLoader.farmExample();
        Schema back = SchemaLoader.parseJson(SchemaLoader.toJson(farm));
        assertEquals(farm.version(), back.version());
        assertEquals(farm.scopeColumn(), back.scopeColumn());
        assertEquals(farm.tables(), back.tables());
        assertEquals(farm.parentFirstOrder(), back.parentFirstOrder());
        assertEquals(SchemaLoader.toJson(farm), SchemaLoader.toJson(back));

        String json = SchemaLoader.toJson(SchemaLoader.parse(MINIMAL));
        assertInvalidJson(json.replace("\"lww\"", "\"latest\""), "tables.farmer.columns.name", "unknown merge policy");
        assertInvalidJson(json.replace("\"farmer\"", "\"Farmer\""), "tables.Farmer", "not a valid name");
        assertInvalidJson(json.replace("{\"version\":1,", "{\"version\":1,\"version\":2,"), "(file)", "duplicate");
        assertInvalidJson(json.substring(0, json.length() - 2), "(file)", "not valid JSON");
        assertInvalidJson(json + "{}", "(file)", "after the JSON document");
    }

    private static void assertInvalidJson(String json, String where, String what) {
        OutpostException e = assertThrows(OutpostException.class, () -> SchemaLoader.parseJson(json));
        assertEquals(ErrorCode.SCHEMA_INVALID, e.code());
        assertTrue(e.getMessage().contains(where), e.getMessage());
        assertTrue(e.getMessage().contains(what), e.getMessage());
    }

    private static void assertInvalid(String yaml, String where, String what) {
        OutpostException e = assertThrows(OutpostException.class, () -> SchemaLoader.parse(yaml));
        assertEquals(ErrorCode.SCHEMA_INVALID, e.code());
        assertTrue(e.getMessage().contains(where), e.getMessage());
        assertTrue(e.getMessage().contains(what), e.getMessage());
    }
}
