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

    /** A new device and its token, shown once. */
    public record Registered(String deviceId, String token, List<String> scopes) {}

    @WithTransaction
    public Uni<Registered> create(String deviceId, List<String> scopes) {
        if (deviceId == null || !ChangeValidator.isRowId(deviceId) || deviceId.equals(SyncService.SERVER_DEVICE_ID)) {
            throw new Problem(
                    ErrorCode.INVALID_ID,
                    "deviceId must be 1-64 characters of letters, digits, '-', '_', '.', ':' (and not 'server')");
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
            return e.<DeviceEntity>persist().map(saved -> new Registered(deviceId, token, distinct));
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
