package dev.outpost.sync.config;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireLimits;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The schema this service runs on, and the earlier versions it still serves. A device on an earlier version that
 * the current one only added to keeps syncing; any other version gets {@link ErrorCode#UPGRADE_REQUIRED}.
 */
@ApplicationScoped
public class SchemaRegistry {
    private final Schema current;
    private final Map<Integer, Schema> served = new TreeMap<>();
    private final WireCodec codec;

    public SchemaRegistry(OutpostConfig config) {
        this.current = config.schema().path().map(SchemaRegistry::load).orElseGet(SchemaLoader::farmExample);
        served.put(current.version(), current);
        for (String p : config.schema().previousPaths().orElse(List.of())) {
            Schema older = load(p);
            List<String> problems = current.incompatibilitiesWith(older);
            if (!problems.isEmpty()) {
                throw new IllegalStateException("schema " + p + " (version " + older.version()
                        + ") is not an additive predecessor of the current schema: " + problems);
            }
            served.put(older.version(), older);
        }
        var sync = config.sync();
        this.codec = new WireCodec(current, new WireLimits(sync.payloadBytesMax(), sync.batchChangesMax()));
    }

    private static Schema load(String path) {
        try {
            return SchemaLoader.parse(Files.readString(Path.of(path)));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read schema file " + path + ": " + e.getMessage(), e);
        }
    }

    public Schema current() {
        return current;
    }

    /** The codec for the current schema, bounded by the configured limits. */
    public WireCodec codec() {
        return codec;
    }

    /** The schema of {@code version} when this service still serves it. */
    public Optional<Schema> served(int version) {
        return Optional.ofNullable(served.get(version));
    }

    /** The schema a device on {@code version} runs, or {@link ErrorCode#UPGRADE_REQUIRED}. */
    public Schema forDevice(int version) {
        return Optional.ofNullable(served.get(version))
                .orElseThrow(() -> new OutpostException(
                        ErrorCode.UPGRADE_REQUIRED,
                        "schema version " + version + " is not served; this service serves versions " + served.keySet()
                                + ": upgrade the device (its local data is kept)"));
    }
}
