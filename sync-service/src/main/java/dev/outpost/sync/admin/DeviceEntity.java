package dev.outpost.sync.admin;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;

/** A registered device, for the admin API. The sync path reads the same table through {@code SyncStore}. */
@Entity
@Table(name = "device")
public class DeviceEntity extends PanacheEntityBase {
    @Id
    public String id;

    @Column(name = "token_hash", nullable = false)
    public byte[] tokenHash;

    @Column(name = "scopes", nullable = false)
    public String[] scopes;

    @Column(name = "created_at", nullable = false)
    public OffsetDateTime createdAt;

    @Column(name = "revoked_at")
    public OffsetDateTime revokedAt;

    @Column(name = "last_sync_at")
    public OffsetDateTime lastSyncAt;

    @Column(name = "schema_version")
    public Integer schemaVersion;

    @Column(name = "token_expires_at")
    public OffsetDateTime tokenExpiresAt;

    @Column(name = "token_lifetime_s")
    public Long tokenLifetimeS;

    @Column(name = "previous_token_hash")
    public byte[] previousTokenHash;

    @Column(name = "previous_token_until")
    public OffsetDateTime previousTokenUntil;

    @Column(name = "reregistered_at")
    public OffsetDateTime reregisteredAt;
}
