package dev.outpost.sync.artifact;

import dev.outpost.sync.artifact.fs.FileChunkStore;
import dev.outpost.sync.artifact.s3.S3ChunkStore;
import dev.outpost.sync.config.OutpostConfig;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.jboss.logging.Logger;

/** Where artifact files live, and the chunk store made there. */
@ApplicationScoped
public class ArtifactDirectory {
    private static final Logger LOG = Logger.getLogger(ArtifactDirectory.class);
    private final OutpostConfig.Artifacts config;
    private final Path path;

    public ArtifactDirectory(OutpostConfig config) {
        this.config = config.artifacts();
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
        if (config.store() == OutpostConfig.Artifacts.StoreKind.S3) {
            var s3 = config.s3();
            String bucket = s3.bucket()
                    .orElseThrow(
                            () -> new IllegalStateException(
                                    "outpost.artifacts.store=s3 needs outpost.artifacts.s3.bucket (OUTPOST_ARTIFACTS_S3_BUCKET)"));
            try {
                return S3ChunkStore.open(new S3ChunkStore.Settings(
                        bucket,
                        s3.endpoint(),
                        s3.region(),
                        s3.prefix().orElse(""),
                        s3.pathStyle(),
                        s3.accessKeyId(),
                        s3.secretAccessKey(),
                        s3.timeout()));
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
        }
        try {
            return new FileChunkStore(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the chunk store in " + path, e);
        }
    }

    /** Opens the store at start, so a wrong bucket, endpoint or credential stops the start with its reason. */
    void openAtStart(@Observes StartupEvent start, ChunkStore store) {
        LOG.infof("chunk store: %s", store);
    }

    void close(@Disposes ChunkStore store) {
        if (store instanceof S3ChunkStore s3) {
            s3.close();
        }
    }
}
