package dev.outpost.sync.admin;

import java.time.OffsetDateTime;
import java.util.List;

/** A device as the admin API shows it (never its token or hash). */
public record DeviceView(
        String deviceId,
        List<String> scopes,
        OffsetDateTime createdAt,
        OffsetDateTime revokedAt,
        OffsetDateTime lastSyncAt,
        Integer schemaVersion,
        OffsetDateTime tokenExpiresAt,
        OffsetDateTime reregisteredAt) {
    static DeviceView of(DeviceEntity e) {
        return new DeviceView(
                e.id,
                List.of(e.scopes),
                e.createdAt,
                e.revokedAt,
                e.lastSyncAt,
                e.schemaVersion,
                e.tokenExpiresAt,
                e.reregisteredAt);
    }
}
