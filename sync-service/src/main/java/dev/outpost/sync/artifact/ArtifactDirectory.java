package dev.outpost.sync.artifact;

import dev.outpost.sync.artifact.fs.FileChunkStore;
import dev.outpost.sync.config.OutpostConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Where artifact files live, and the chunk store made there. */
@ApplicationScoped
public class ArtifactDirectory {
    private final Path path;

    public ArtifactDirectory(OutpostConfig config) {
        this.path = config.artifacts()
                .dir()
                .map(Path::of)
                .orElse(Path.of(System.getProperty("user.home"), ".outpost-server", "artifacts"))
                .toAbsolutePath();
    }

    public Path path() {
        return path;
    }

    @Produces
    @Singleton
    ChunkStore chunkStore() {
        try {
            return new FileChunkStore(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the chunk store in " + path, e);
        }
    }
}
