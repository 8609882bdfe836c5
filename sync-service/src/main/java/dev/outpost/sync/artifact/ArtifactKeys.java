package dev.outpost.sync.artifact;

import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.sync.config.OutpostConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The service's online Ed25519 signing key and the root-signed delegation devices trust it by (docs/SECURITY.md, "Model
 * trust"). From configuration in production: the key pair and the delegation come from {@code outpost keys online},
 * run offline with the root key, which never reaches the service. A start refuses a delegation that does not name the
 * configured key, that has expired, or (when the root's public key is configured) that the root did not sign. In
 * development, without configuration, a key is generated on first start and kept in {@code ARTIFACT_DIR/signing-key}
 * (mode 0600) with no delegation: only devices given that key at {@code init --model-key} trust it.
 */
@ApplicationScoped
public class ArtifactKeys {
    private static final Logger LOG = Logger.getLogger(ArtifactKeys.class);
    private final SigningKeys keys;
    private final Optional<byte[]> delegation;

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
        this.delegation = a.keyDelegation().map(d -> checked(d, keys, a.rootKey(), a.keyDelegationWarning()));
        if (delegation.isEmpty()) {
            LOG.warnf(
                    "no outpost.artifacts.key-delegation: only devices given signing key %s at init (--model-key) trust"
                            + " this service's models; see docs/SECURITY.md",
                    keys.keyId());
        }
    }

    public SigningKeys keys() {
        return keys;
    }

    /** The root-signed delegation of {@link #keys()}, encoded, when one is configured. */
    public Optional<byte[]> delegation() {
        return delegation.map(byte[]::clone);
    }

    /** The configured delegation, decoded, after the checks a start makes; a failed one stops the start. */
    static byte[] checked(String base64, SigningKeys keys, Optional<String> rootKey, java.time.Duration warnBefore) {
        byte[] encoded;
        KeyDelegation d;
        try {
            encoded = Base64.getDecoder().decode(base64.strip());
            d = rootKey.isPresent()
                    ? KeyDelegation.verified(encoded, SigningKeys.decodePublic(rootKey.get()))
                    : KeyDelegation.decode(SignedEnvelope.decode(encoded).payload());
        } catch (IllegalArgumentException | OutpostException e) {
            throw new IllegalStateException("outpost.artifacts.key-delegation is not usable: " + e.getMessage(), e);
        }
        if (!d.delegates(keys.keyId())) {
            throw new IllegalStateException("outpost.artifacts.key-delegation delegates " + d.keyIds()
                    + ", not the configured signing key " + keys.keyId());
        }
        long now = System.currentTimeMillis();
        if (now > d.expiresAtMs()) {
            throw new IllegalStateException(
                    "outpost.artifacts.key-delegation expired at " + Instant.ofEpochMilli(d.expiresAtMs())
                            + "; sign a new one with the root key (outpost keys online)");
        }
        if (now + warnBefore.toMillis() > d.expiresAtMs()) {
            LOG.warnf(
                    "the key delegation of signing key %s expires at %s: sign a new one with the root key soon",
                    keys.keyId(), Instant.ofEpochMilli(d.expiresAtMs()));
        }
        LOG.infof("signing with key %s, delegated until %s", keys.keyId(), Instant.ofEpochMilli(d.expiresAtMs()));
        return encoded;
    }

    private static SigningKeys loadOrGenerate(Path file) {
        try {
            if (Files.exists(file)) {
                List<String> lines = Files.readAllLines(file);
                return SigningKeys.decode(lines.get(0), lines.get(1));
            }
            SigningKeys generated = SigningKeys.generate();
            Files.createDirectories(file.getParent()); // a first start: nothing made the store's directory yet
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
