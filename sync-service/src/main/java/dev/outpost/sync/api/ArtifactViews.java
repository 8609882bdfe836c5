package dev.outpost.sync.api;

import dev.outpost.sync.store.ArtifactStore;
import java.util.LinkedHashMap;
import java.util.Map;

/** The admin API's JSON shapes for artifact versions; never the table rows themselves. */
final class ArtifactViews {
    private ArtifactViews() {}

    static Map<String, Object> version(ArtifactStore.VersionRow row) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("artifact", row.artifact());
        m.put("version", row.version());
        m.put("sizeBytes", row.sizeBytes());
        m.put("storedBytes", row.storedBytes());
        m.put("newStoredBytes", row.newStoredBytes());
        m.put("dedupSavedBytes", row.storedBytes() - row.newStoredBytes());
        m.put("chunks", row.chunkCount());
        m.put("manifestSha256", row.manifestSha256());
        m.put("createdAt", row.createdAt().toString());
        m.put("createdBy", row.createdBy());
        return m;
    }

    static Map<String, Object> desired(ArtifactStore.Desired d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("artifact", d.artifact());
        m.put("version", d.version());
        m.put("rollback", d.rollback());
        m.put("setAt", d.setAt().toString());
        return m;
    }
}
