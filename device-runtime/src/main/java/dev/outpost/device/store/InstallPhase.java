package dev.outpost.device.store;

import java.util.Optional;

/**
 * Where an install stands (docs/artifacts.md): {@code downloading} into the inactive slot, {@code activating} (the
 * slot verified, the switch being made), {@code checking} (the new version active, its health check running). A switch
 * back to the kept slot starts at {@code activating}. Stored by {@link #key}, which never changes once shipped.
 */
public enum InstallPhase {
    DOWNLOADING("downloading"),
    ACTIVATING("activating"),
    CHECKING("checking");

    public final String key;

    InstallPhase(String key) {
        this.key = key;
    }

    public static Optional<InstallPhase> of(String key) {
        for (InstallPhase p : values()) {
            if (p.key.equals(key)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
