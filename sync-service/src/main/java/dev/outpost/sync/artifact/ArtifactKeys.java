package dev.outpost.sync.artifact;

import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.sync.config.OutpostConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * The service's Ed25519 signing key: from configuration in production; in development generated on first start
 * and kept in {@code ARTIFACT_DIR/signing-key} (mode 0600), so devices that pinned it keep trusting restarts.
 */
@ApplicationScoped
public class ArtifactKeys {
    private static final Logger LOG = Logger.getLogger(ArtifactKeys.class);
    private final SigningKeys keys;

    public ArtifactKeys(OutpostConfig config, ArtifactDirectory dir) {
        var a = config.artifacts();
        if (a.signingKeyPrivate().isPresent() != a.signingKeyPublic().isPresent()) {
            throw new IllegalStateException(
                    "set both outpost.artifacts.signing-key-private and signing-key-public, or neither");
        }
        this.keys = a.signingKeyPrivate().isPresent()
                ? SigningKeys.decode(
                        a.signingKeyPrivate().get(), a.signingKeyPublic().get())
                : loadOrGenerate(dir.path().resolve("signing-key"));
    }

    public SigningKeys keys() {
        return keys;
    }

    private static SigningKeys loadOrGenerate(Path file) {
        try {
            if (Files.exists(file)) {
                List<String> lines = Files.readAllLines(file);
                return SigningKeys.decode(lines.get(0), lines.get(1));
            }
            SigningKeys generated = SigningKeys.generate();
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, generated.privateBase64() + "\n" + generated.publicBase64() + "\n");
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            LOG.warnf(
                    "generated a development signing key %s in %s; configure outpost.artifacts.signing-key-* in production",
                    generated.keyId(), file);
            return generated;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the signing key " + file, e);
        }
    }
}
