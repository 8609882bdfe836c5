package dev.outpost.sync.auth;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.store.SyncStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checks device bearer credentials, by hash (operators' credentials: {@link OperatorAuth}). Valid device credentials are remembered
 * per replica for {@code outpost.auth.credential-cache-ttl} (a check-in then costs no database query); a revocation
 * through this replica takes effect at once, through another one within that time.
 */
@ApplicationScoped
public class DeviceAuth {
    private final SyncStore store;
    private final long cacheTtlNanos;
    private final int cacheSizeMax;
    private final ConcurrentHashMap<String, Remembered> remembered = new ConcurrentHashMap<>();

    private record Remembered(DeviceRecord device, long untilNanos) {}

    public DeviceAuth(SyncStore store, OutpostConfig config) {
        this.store = store;
        this.cacheTtlNanos = config.auth().credentialCacheTtl().toNanos();
        this.cacheSizeMax = config.auth().credentialCacheSize();
    }

    /** The device the header's token belongs to; 401 when missing, unknown or revoked. */
    public Uni<DeviceRecord> device(String authorization) {
        String token = Tokens.bearer(authorization);
        if (token == null) {
            return Uni.createFrom().failure(new Problem(ErrorCode.UNAUTHENTICATED, "missing bearer credential"));
        }
        byte[] hash = Tokens.hash(token);
        String key = HexFormat.of().formatHex(hash);
        Remembered r = remembered.get(key);
        if (r != null && System.nanoTime() - r.untilNanos() < 0) {
            return Uni.createFrom().item(r.device());
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
            if (cacheTtlNanos > 0) {
                if (remembered.size() >= cacheSizeMax) {
                    remembered.clear(); // bounded memory; the next requests simply look their devices up again
                }
                remembered.put(key, new Remembered(d, System.nanoTime() + cacheTtlNanos));
            }
            return d;
        });
    }

    /** Forgets the remembered credentials of {@code deviceId} (after its revocation). */
    public void forget(String deviceId) {
        remembered.values().removeIf(r -> r.device().id().equals(deviceId));
    }
}
