package dev.outpost.sync.auth;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.store.DeviceRecord;
import dev.outpost.sync.store.SyncStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/** Checks bearer credentials: device tokens (by hash) and the admin token. */
@ApplicationScoped
public class DeviceAuth {
    private final SyncStore store;
    private final OutpostConfig config;

    public DeviceAuth(SyncStore store, OutpostConfig config) {
        this.store = store;
        this.config = config;
    }

    /** The device the header's token belongs to; 401 when missing, unknown or revoked. */
    public Uni<DeviceRecord> device(String authorization) {
        String token = Tokens.bearer(authorization);
        if (token == null) {
            return Uni.createFrom().failure(new Problem(ErrorCode.UNAUTHENTICATED, "missing bearer credential"));
        }
        return store.findDeviceByTokenHash(Tokens.hash(token)).map(found -> {
            DeviceRecord d = found.orElseThrow(() -> new Problem(ErrorCode.UNAUTHENTICATED, "unknown credential"));
            if (d.revoked()) {
                throw new Problem(
                        ErrorCode.CREDENTIAL_REVOKED, "the credential of device '" + d.id() + "' was revoked");
            }
            return d;
        });
    }

    /** Passes for the admin token; 401 without a credential, 403 for any other one. */
    public void admin(String authorization) {
        String token = Tokens.bearer(authorization);
        if (token == null) {
            throw new Problem(ErrorCode.UNAUTHENTICATED, "missing bearer credential");
        }
        String admin = config.adminToken()
                .filter(t -> !t.isBlank())
                .orElseThrow(() -> new Problem(
                        ErrorCode.ADMIN_ONLY, "admin operations are disabled: set OUTPOST_ADMIN_TOKEN on the service"));
        if (!Tokens.same(token, admin)) {
            throw new Problem(ErrorCode.ADMIN_ONLY, "this operation needs the admin credential");
        }
    }
}
