package dev.outpost.sync.admin;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.change.ChangeValidator;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.auth.Tokens;
import dev.outpost.sync.sync.SyncService;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.quarkus.hibernate.reactive.panache.common.WithTransaction;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.LinkedHashSet;
import java.util.List;

/** Registers, lists and revokes devices. */
@ApplicationScoped
public class DeviceRegistry {

    /** A new device and its token, shown once; {@code expiresAt} null for a token without a lifetime. */
    public record Registered(String deviceId, String token, List<String> scopes, OffsetDateTime expiresAt) {}

    /** A token that a rotation replaced stays valid this long: a device that lost the answer asks again with it. */
    public static final java.time.Duration ROTATION_GRACE = java.time.Duration.ofMinutes(10);

    /** Token lifetimes at most (ten years), in days. */
    public static final int LIFETIME_DAYS_MAX = 3650;

    /** Registers a device, the token living {@code lifetimeDays} (null: no lifetime); a rotation gives the new one as long. */
    @WithTransaction
    public Uni<Registered> create(String deviceId, List<String> scopes, Integer lifetimeDays) {
        checkLifetime(lifetimeDays);
        if (deviceId == null || !ChangeValidator.isRowId(deviceId) || SyncService.isServerNode(deviceId)) {
            throw new Problem(
                    ErrorCode.INVALID_ID,
                    "deviceId must be 1-64 characters of letters, digits, '-', '_', '.', ':' (and neither 'server' nor 'server.' followed by anything: the service's own)");
        }
        if (scopes == null || scopes.isEmpty()) {
            throw new Problem(ErrorCode.INVALID_ID, "a device needs at least one scope");
        }
        for (String s : scopes) {
            if (s == null || s.isEmpty() || s.length() > ChangeValidator.SCOPE_LENGTH_MAX) {
                throw new Problem(
                        ErrorCode.INVALID_ID, "scopes are 1-" + ChangeValidator.SCOPE_LENGTH_MAX + " characters");
            }
        }
        List<String> distinct = List.copyOf(new LinkedHashSet<>(scopes));
        return DeviceEntity.<DeviceEntity>findById(deviceId).flatMap(existing -> {
            if (existing != null) {
                throw new Problem(ErrorCode.ALREADY_EXISTS, "device '" + deviceId + "' is already registered");
            }
            String token = Tokens.newToken();
            DeviceEntity e = new DeviceEntity();
            e.id = deviceId;
            e.tokenHash = Tokens.hash(token);
            e.scopes = distinct.toArray(new String[0]);
            e.createdAt = OffsetDateTime.now();
            e.tokenLifetimeS = lifetimeDays == null ? null : lifetimeDays * 86_400L;
            e.tokenExpiresAt = expiry(e.tokenLifetimeS);
            return e.<DeviceEntity>persist()
                    .map(saved -> new Registered(deviceId, token, distinct, saved.tokenExpiresAt));
        });
    }

    private static void checkLifetime(Integer lifetimeDays) {
        if (lifetimeDays != null && (lifetimeDays < 1 || lifetimeDays > LIFETIME_DAYS_MAX)) {
            throw new Problem(ErrorCode.MALFORMED_PAYLOAD, "lifetimeDays is 1 to " + LIFETIME_DAYS_MAX);
        }
    }

    private static OffsetDateTime expiry(Long lifetimeS) {
        return lifetimeS == null ? null : OffsetDateTime.now().plusSeconds(lifetimeS);
    }

    /**
     * The device changes its own token: a new one (as long-lived as its lifetime says) replaces the current, which
     * stays valid for {@link #ROTATION_GRACE} (the device may not have received the answer); the one replaced before
     * is no longer valid at all.
     */
    @WithTransaction
    public Uni<Registered> rotate(String deviceId) {
        return DeviceEntity.<DeviceEntity>findById(deviceId).map(e -> {
            if (e == null || e.revokedAt != null) {
                throw new Problem(
                        ErrorCode.CREDENTIAL_REVOKED, "the credential of device '" + deviceId + "' was revoked");
            }
            String token = Tokens.newToken();
            e.previousTokenHash = e.tokenHash;
            e.previousTokenUntil = OffsetDateTime.now().plus(ROTATION_GRACE);
            e.tokenHash = Tokens.hash(token);
            e.tokenExpiresAt = expiry(e.tokenLifetimeS);
            return new Registered(e.id, token, List.of(e.scopes), e.tokenExpiresAt);
        });
    }

    /**
     * An admin's decision to let a revoked device id back in (a tablet found again, a credential that expired): a
     * new token, the revocation lifted, the time recorded; every earlier token stays invalid. A device that is not
     * revoked is refused (409): revoke it first, so that its old credential is known dead.
     */
    @WithTransaction
    public Uni<Registered> reregister(String deviceId, Integer lifetimeDays) {
        checkLifetime(lifetimeDays);
        return DeviceEntity.<DeviceEntity>findById(deviceId).map(e -> {
            if (e == null) {
                throw new Problem(ErrorCode.NOT_FOUND, "no device '" + deviceId + "'");
            }
            if (e.revokedAt == null) {
                throw new Problem(
                        ErrorCode.ALREADY_EXISTS,
                        "device '" + deviceId
                                + "' is not revoked: revoke it first, so that its old credential is dead");
            }
            String token = Tokens.newToken();
            e.tokenHash = Tokens.hash(token);
            e.previousTokenHash = null;
            e.previousTokenUntil = null;
            e.revokedAt = null;
            e.reregisteredAt = OffsetDateTime.now();
            if (lifetimeDays != null) {
                e.tokenLifetimeS = lifetimeDays * 86_400L;
            }
            e.tokenExpiresAt = expiry(e.tokenLifetimeS);
            return new Registered(e.id, token, List.of(e.scopes), e.tokenExpiresAt);
        });
    }

    @WithSession
    public Uni<List<DeviceView>> findAll() {
        return DeviceEntity.<DeviceEntity>listAll(io.quarkus.panache.common.Sort.by("id"))
                .map(list -> list.stream().map(DeviceView::of).toList());
    }

    @WithTransaction
    public Uni<DeviceView> revoke(String deviceId) {
        return DeviceEntity.<DeviceEntity>findById(deviceId).map(e -> {
            if (e == null) {
                throw new Problem(ErrorCode.NOT_FOUND, "no device '" + deviceId + "'");
            }
            if (e.revokedAt == null) {
                e.revokedAt = OffsetDateTime.now();
            }
            return DeviceView.of(e);
        });
    }
}
