package dev.outpost.sync.auth;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.store.SyncStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Checks device bearer credentials, by hash (operators' credentials: {@link OperatorAuth}). Valid ones are remembered
 * in a {@link CredentialCache}: a check-in then costs no database query; a revocation through this replica takes
 * effect at once, through another one within the cache's lifetime.
 */
@ApplicationScoped
public class DeviceAuth {
    private final SyncStore store;
    private final CredentialCache<DeviceRecord> remembered;

    public DeviceAuth(SyncStore store, OutpostConfig config) {
        this.store = store;
        this.remembered = new CredentialCache<>(config);
    }

    /** The device the header's token belongs to; 401 when missing, unknown or revoked. */
    public Uni<DeviceRecord> device(String authorization) {
        String token = Tokens.bearer(authorization);
        if (token == null) {
            return Uni.createFrom().failure(new Problem(ErrorCode.UNAUTHENTICATED, "missing bearer credential"));
        }
        byte[] hash = Tokens.hash(token);
        String key = CredentialCache.key(hash);
        DeviceRecord known = remembered.get(key);
        if (known != null) {
            return Uni.createFrom().item(known);
        }
        return store.findDeviceByTokenHash(hash).map(found -> {
            var credential = found.orElseThrow(() -> new Problem(ErrorCode.UNAUTHENTICATED, "unknown credential"));
            DeviceRecord d = credential.device();
            if (d.revoked()) {
                remembered.remove(key);
                throw new Problem(
                        ErrorCode.CREDENTIAL_REVOKED, "the credential of device '" + d.id() + "' was revoked");
            }
            if (credential.expired()) {
                remembered.remove(key);
                throw new Problem(
                        ErrorCode.UNAUTHENTICATED,
                        "the credential of device '" + d.id() + "' expired: an admin can give it a new one"
                                + " (POST /v1/admin/devices/" + d.id() + "/reregister after revoking it)");
            }
            remembered.put(key, d);
            return d;
        });
    }

    /** Forgets the remembered credentials of {@code deviceId} (after its revocation). */
    public void forget(String deviceId) {
        remembered.forgetIf(d -> d.id().equals(deviceId));
    }
}
