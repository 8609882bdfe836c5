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
 * in a {@link CredentialCache}: a check-in then costs no database query. A revocation takes effect at once through
 * this replica and, through {@link ReplicaNotices}, on the others as soon as the notice arrives (within the cache's
 * lifetime while a replica cannot listen).
 */
@ApplicationScoped
public class DeviceAuth {
    private final SyncStore store;
    private final CredentialCache<DeviceRecord> remembered;

    private final ReplicaNotices notices;

    public DeviceAuth(SyncStore store, OutpostConfig config, ReplicaNotices notices) {
        this.store = store;
        this.remembered = new CredentialCache<>(config);
        this.notices = notices;
        notices.listen("device", this::forgetHere, remembered::clear);
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

    /** Forgets the remembered credentials of {@code deviceId} (after its revocation) here and on every replica. */
    public Uni<Void> forget(String deviceId) {
        forgetHere(deviceId);
        return notices.publish("device", deviceId);
    }

    private void forgetHere(String deviceId) {
        remembered.forgetIf(d -> d.id().equals(deviceId));
    }
}
