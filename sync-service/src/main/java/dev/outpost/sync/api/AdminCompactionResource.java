package dev.outpost.sync.api;

import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.retention.FeedCompaction;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/** Feed compaction, on an operator's word (an admin). */
@Path("/v1/admin/compaction")
public class AdminCompactionResource {
    private final FeedCompaction compaction;
    private final OutpostConfig config;

    public AdminCompactionResource(FeedCompaction compaction, OutpostConfig config) {
        this.compaction = compaction;
        this.config = config;
    }

    /**
     * One look now, as the timer's (an operator draining a backlog, or a test): {@code {"ran", "entries": {scope: n},
     * "horizons": {scope: cursor}}}; {@code ran} is false when another replica was looking.
     */
    @POST
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Map<String, Object>> compactNow() {
        return compaction
                .run(Instant.now(), config.compaction().entriesPerRun(), scope -> true)
                .map(c -> {
                    Map<String, String> horizons = new TreeMap<>();
                    c.horizons().forEach((scope, h) -> horizons.put(scope, h.toString()));
                    return Map.of("ran", c.ran(), "entries", c.entries(), "horizons", horizons);
                });
    }
}
