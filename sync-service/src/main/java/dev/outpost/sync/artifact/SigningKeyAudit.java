package dev.outpost.sync.artifact;

import dev.outpost.sync.store.OperatorStore;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

/**
 * Puts a key rotation in the audit trail: at start, the signing key in use is recorded ({@code KEY
 * /signing-key/ID}, by {@code configuration}) when it differs from the last one recorded. Rotation is a change of the
 * service's settings (docs/artifacts.md, "Keys"), so this is where it is seen.
 */
@ApplicationScoped
public class SigningKeyAudit {
    private static final Logger LOG = Logger.getLogger(SigningKeyAudit.class);

    private final ArtifactKeys keys;
    private final OperatorStore store;

    public SigningKeyAudit(ArtifactKeys keys, OperatorStore store) {
        this.keys = keys;
        this.store = store;
    }

    void start(@Observes StartupEvent ev) {
        String path = "/signing-key/" + keys.keys().keyId();
        // Before the service answers (the start thread, not an event loop): the trail is current once it is ready.
        try {
            if (store.auditKeyInUse(path).await().atMost(java.time.Duration.ofSeconds(30))) {
                LOG.infof(
                        "signing key %s recorded in the audit trail",
                        keys.keys().keyId());
            }
        } catch (RuntimeException e) {
            LOG.errorf(
                    e,
                    "could not record signing key %s in the audit trail",
                    keys.keys().keyId());
        }
    }
}
