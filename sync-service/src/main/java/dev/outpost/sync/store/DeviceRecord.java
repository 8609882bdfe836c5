package dev.outpost.sync.store;

import java.util.List;

/** An authenticated device as the sync path sees it. */
public record DeviceRecord(String id, List<String> scopes, boolean revoked) {
    public DeviceRecord {
        scopes = List.copyOf(scopes);
    }

    public boolean mayAccess(String scope) {
        return scopes.contains(scope);
    }
}
