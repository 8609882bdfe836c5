package dev.outpost.model.wire;

import dev.outpost.model.schema.SchemaLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the golden wire fixtures. Run by hand only when the wire format changes on purpose, and bump the
 * fixture folder with the format version (wire/v1 stays as it is once shipped). After {@code bench/run wire} has
 * built the classpath: {@code java -cp shared-model/target/test-classes:shared-model/target/classes:$(cat
 * bench/work/shared-model.cp) dev.outpost.model.wire.WriteGoldenFixtures shared-model/src/test/resources/wire/v1}.
 */
public final class WriteGoldenFixtures {
    private WriteGoldenFixtures() {}

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        WireCodec codec = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);
        ChangeBatch batch = WireCodecTest.everyKindOfChange();
        Files.write(dir.resolve("every-kind-of-change.json"), codec.encode(batch, WireFormat.JSON));
        Files.write(dir.resolve("every-kind-of-change.bin"), codec.encode(batch, WireFormat.BINARY));
    }
}
