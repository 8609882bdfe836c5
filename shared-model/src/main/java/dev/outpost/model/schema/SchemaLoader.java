package dev.outpost.model.schema;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.wire.JsonText;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads and validates a schema file (YAML, see {@code examples/farm-schema.yaml}). Every problem is reported as
 * {@link ErrorCode#SCHEMA_INVALID} with a message naming the bad entry, e.g. {@code tables.plot.columns.farmer_id:
 * references missing table 'farmers'}.
 */
public final class SchemaLoader {
    private static final JsonFactory JSON = new JsonFactory();
    private static final Set<String> TOP_KEYS = Set.of("version", "scope", "tables");
    private static final Set<String> TABLE_KEYS = Set.of("columns", "on_delete_vs_update");
    private static final Set<String> COLUMN_KEYS = Set.of("type", "merge", "to", "index");
    /** Every row has these; a schema must not declare them as columns. */
    public static final String ID_COLUMN = "id";

    private SchemaLoader() {}

    /** The example farm schema shipped with the model (DESIGN.md section 2). */
    public static Schema farmExample() {
        return parse(farmExampleText());
    }

    /** The text of the bundled example schema (examples/farm-schema.yaml), e.g. to copy into a device home. */
    public static String farmExampleText() {
        try (InputStream in = SchemaLoader.class.getResourceAsStream("/dev/outpost/model/farm-schema.yaml")) {
            if (in == null) {
                throw new IllegalStateException("farm-schema.yaml missing from the shared-model jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the bundled farm schema", e);
        }
    }

    public static Schema parse(String yamlText) {
        return parse(new StringReader(yamlText));
    }

    public static Schema parse(Reader yamlText) {
        Object root;
        try {
            LoaderOptions options = new LoaderOptions();
            options.setAllowDuplicateKeys(false);
            options.setMaxAliasesForCollections(10);
            root = new Yaml(new SafeConstructor(options)).load(yamlText);
        } catch (YAMLException e) {
            throw invalid("(file)", "not valid YAML: " + firstLine(e.getMessage()));
        }
        return fromTree(root);
    }

    /**
     * The schema as JSON of the same shape as the YAML file, every column spelled out ({@code type}, {@code merge},
     * {@code to}, and {@code index} when set). Devices keep this form beside the YAML text: reading it needs no YAML parser, whose regular
     * expressions and classes were a fifth of a short command's start.
     */
    public static String toJson(Schema schema) {
        StringBuilder b = new StringBuilder("{\"version\":")
                .append(schema.version())
                .append(",\"scope\":")
                .append(JsonText.quote(schema.scopeColumn()))
                .append(",\"tables\":{");
        String tableSep = "";
        for (Table t : schema.tables().values()) {
            b.append(tableSep).append(JsonText.quote(t.name())).append(":{\"columns\":{");
            tableSep = ",";
            String columnSep = "";
            for (Column c : t.columns().values()) {
                b.append(columnSep)
                        .append(JsonText.quote(c.name()))
                        .append(":{\"type\":")
                        .append(JsonText.quote(c.type().key()))
                        .append(",\"merge\":")
                        .append(JsonText.quote(c.merge().key()));
                if (c.refTable() != null) {
                    b.append(",\"to\":").append(JsonText.quote(c.refTable()));
                }
                if (c.indexed()) {
                    b.append(",\"index\":true");
                }
                b.append('}');
                columnSep = ",";
            }
            b.append("},\"on_delete_vs_update\":")
                    .append(JsonText.quote(t.onDeleteVsUpdate().key()))
                    .append('}');
        }
        return b.append("}}").toString();
    }

    /** Reads {@link #toJson}'s form (or any JSON of the YAML file's shape) with the same checks as {@link #parse}. */
    public static Schema parseJson(String jsonText) {
        try (JsonParser p = JSON.createParser(jsonText)) {
            Object root = jsonTree(p, p.nextToken());
            if (p.nextToken() != null) {
                throw invalid("(file)", "text after the JSON document");
            }
            return fromTree(root);
        } catch (IOException e) {
            throw invalid("(file)", "not valid JSON: " + firstLine(e.getMessage()));
        }
    }

    private static Object jsonTree(JsonParser p, JsonToken token) throws IOException {
        if (token == null) {
            throw invalid("(file)", "empty");
        }
        switch (token) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
                    String key = p.currentName();
                    if (m.put(key, jsonTree(p, p.nextToken())) != null) {
                        throw invalid("(file)", "duplicate key '" + key + "'");
                    }
                }
                return m;
            }
            case START_ARRAY -> {
                List<Object> list = new ArrayList<>();
                for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                    list.add(jsonTree(p, t));
                }
                return list;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                return p.getNumberType() == JsonParser.NumberType.INT ? (Object) p.getIntValue() : p.getText();
            }
            case VALUE_NULL -> {
                return null;
            }
            case VALUE_TRUE, VALUE_FALSE -> {
                return token == JsonToken.VALUE_TRUE;
            }
            default -> {
                return p.getText();
            }
        }
    }

    private static Schema fromTree(Object root) {
        Map<String, Object> top = map(root, "(top level)");
        unknownKeys(top, TOP_KEYS, "");

        Object versionValue = top.get("version");
        if (!(versionValue instanceof Integer version) || version < 1) {
            throw invalid("version", "must be a positive integer");
        }
        Object scopeValue = top.get("scope");
        if (!(scopeValue instanceof String scope)) {
            throw invalid("scope", "missing: every schema names the scope column that decides which devices see a row");
        }
        checkName(scope, "scope");
        if (scope.equals(ID_COLUMN)) {
            throw invalid("scope", "'id' is reserved for the row id");
        }

        Map<String, Object> tablesYaml = map(top.get("tables"), "tables");
        if (tablesYaml.isEmpty()) {
            throw invalid("tables", "at least one table is required");
        }
        Map<String, Table> tables = new LinkedHashMap<>();
        for (var e : tablesYaml.entrySet()) {
            String tableName = e.getKey();
            String where = "tables." + tableName;
            checkName(tableName, where);
            Map<String, Object> tableYaml = map(e.getValue(), where);
            unknownKeys(tableYaml, TABLE_KEYS, where + ".");
            DeletePolicy onDelete = DeletePolicy.REVIEW;
            Object onDeleteValue = tableYaml.get("on_delete_vs_update");
            if (onDeleteValue != null) {
                onDelete = DeletePolicy.get(String.valueOf(onDeleteValue))
                        .orElseThrow(() -> invalid(
                                where + ".on_delete_vs_update",
                                "unknown policy '" + onDeleteValue + "' (expected review or update_wins)"));
            }
            Map<String, Object> columnsYaml = map(tableYaml.get("columns"), where + ".columns");
            Map<String, Column> columns = new LinkedHashMap<>();
            for (var c : columnsYaml.entrySet()) {
                columns.put(c.getKey(), column(c.getKey(), c.getValue(), where + ".columns." + c.getKey(), scope));
            }
            tables.put(tableName, new Table(tableName, columns, onDelete));
        }
        for (Table t : tables.values()) {
            for (Column c : t.columns().values()) {
                if (c.type() == ColumnType.REF && !tables.containsKey(c.refTable())) {
                    throw invalid(
                            "tables." + t.name() + ".columns." + c.name(),
                            "references missing table '" + c.refTable() + "'");
                }
            }
        }
        return new Schema(version, scope, tables);
    }

    private static Column column(String name, Object yaml, String where, String scope) {
        checkName(name, where);
        if (name.equals(ID_COLUMN) || name.equals(scope)) {
            throw invalid(where, "'" + name + "' is implicit on every row and cannot be declared");
        }
        String typeKey;
        String mergeKey = null;
        String to = null;
        boolean indexed = false;
        if (yaml instanceof String s) {
            typeKey = s;
        } else {
            Map<String, Object> spec = map(yaml, where);
            unknownKeys(spec, COLUMN_KEYS, where + ".");
            if (!(spec.get("type") instanceof String s)) {
                throw invalid(where, "missing type");
            }
            typeKey = s;
            mergeKey = spec.get("merge") == null ? null : String.valueOf(spec.get("merge"));
            to = spec.get("to") == null ? null : String.valueOf(spec.get("to"));
            Object index = spec.get("index");
            if (index != null && !(index instanceof Boolean)) {
                throw invalid(where + ".index", "must be true or false");
            }
            indexed = Boolean.TRUE.equals(index);
        }
        ColumnType type = ColumnType.get(typeKey)
                .orElseThrow(() -> invalid(
                        where,
                        "unknown type '" + typeKey
                                + "' (expected text, int, decimal, bool, date, timestamp, json, ref or set)"));
        MergePolicy merge = MergePolicy.defaultFor(type);
        if (mergeKey != null) {
            String key = mergeKey;
            merge = MergePolicy.get(key)
                    .orElseThrow(() -> invalid(
                            where,
                            "unknown merge policy '" + key + "' (expected lww, counter, set, max, min or review)"));
        }
        if (!merge.fits(type)) {
            throw invalid(where, "merge policy '" + merge.key() + "' does not fit type '" + type.key() + "'");
        }
        if (type == ColumnType.REF && to == null) {
            throw invalid(where, "a ref column needs 'to: TABLE'");
        }
        if (type != ColumnType.REF && to != null) {
            throw invalid(where, "'to' is only for ref columns");
        }
        if (indexed && (type == ColumnType.SET || type == ColumnType.JSON)) {
            throw invalid(
                    where + ".index", "a " + type.key() + " column cannot be indexed (its value is a JSON document)");
        }
        return new Column(name, type, merge, to, indexed);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object yaml, String where) {
        if (yaml instanceof Map<?, ?> m) {
            for (Object k : m.keySet()) {
                if (!(k instanceof String)) {
                    throw invalid(where, "key '" + k + "' is not a name");
                }
            }
            return (Map<String, Object>) m;
        }
        throw invalid(where, yaml == null ? "missing" : "expected a mapping");
    }

    private static void unknownKeys(Map<String, Object> m, Set<String> allowed, String prefix) {
        for (String k : m.keySet()) {
            if (!allowed.contains(k)) {
                throw invalid(prefix + k, "unknown key (allowed: " + String.join(", ", sorted(allowed)) + ")");
            }
        }
    }

    private static List<String> sorted(Set<String> s) {
        return s.stream().sorted().toList();
    }

    private static void checkName(String name, String where) {
        if (!isName(name)) {
            throw invalid(where, "'" + name + "' is not a valid name (lower case letters, digits, _; 63 at most)");
        }
    }

    /** {@code [a-z][a-z0-9_]{0,62}}, without a regular expression (a device parses its schema on every start). */
    private static boolean isName(String s) {
        if (s.isEmpty() || s.length() > 63 || s.charAt(0) < 'a' || s.charAt(0) > 'z') {
            return false;
        }
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')) {
                return false;
            }
        }
        return true;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static OutpostException invalid(String where, String what) {
        return new OutpostException(ErrorCode.SCHEMA_INVALID, "schema " + where + ": " + what);
    }
}
