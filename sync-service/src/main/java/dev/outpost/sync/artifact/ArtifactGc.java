package dev.outpost.sync.artifact;

import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.DeltaIndex;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.sync.config.PeriodicJob;
import dev.outpost.sync.config.Replica;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Collects the chunks and deltas that no artifact version and no delta index refers to any more (after versions
 * were deleted, or left by an upload that failed): mark from the database, sweep the store.
 *
 * <p>An upload stores its chunks before its version exists, and reuses chunks already stored; so collection and
 * uploads exclude each other through one advisory lock: an upload registers (a row in {@code artifact_upload}) while
 * holding it, and a collection runs only while holding it and finding no upload registered. An upload row older than
 * {@link #UPLOAD_LAPSE} (a replica killed mid-upload) no longer holds collection back.
 */
@ApplicationScoped
public class ArtifactGc {
    private static final Logger LOG = Logger.getLogger(ArtifactGc.class);

    /** The advisory lock uploads and collections share (no other lock of the service uses it). */
    static final long GATE = 0x6f75_7470_6763_6c6bL;

    static final Duration UPLOAD_LAPSE = Duration.ofHours(6);

    private final Pool pool;
    private final ChunkStore store;
    private final Replica replica;
    private final Counter chunksFreed;
    private final Counter deltasFreed;

    public ArtifactGc(Pool pool, ChunkStore store, Replica replica, MeterRegistry metrics) {
        this.pool = pool;
        this.store = store;
        this.replica = replica;
        this.chunksFreed = Counter.builder("outpost.artifacts.collected")
                .tag("kind", "chunk")
                .description("blobs removed from the chunk store as referred to by nothing")
                .register(metrics);
        this.deltasFreed = Counter.builder("outpost.artifacts.collected")
                .tag("kind", "delta")
                .description("blobs removed from the chunk store as referred to by nothing")
                .register(metrics);
    }

    /** What one collection did; {@code ran} is false when an upload or another collection was in the way. */
    public record Collected(boolean ran, long chunks, long deltas) {}

    /**
     * Runs {@code upload} registered as an upload in progress, so no collection runs meanwhile (waiting for one that
     * runs now to finish first).
     */
    public <T> Uni<T> duringUpload(String artifact, long version, Supplier<Uni<T>> upload) {
        String id = UUID.randomUUID().toString();
        return pool.withTransaction(tx -> tx.preparedQuery("select pg_advisory_xact_lock($1)")
                        .execute(Tuple.of(GATE))
                        .flatMap(x -> tx.preparedQuery("insert into artifact_upload (id, artifact, version, replica)"
                                        + " values ($1, $2, $3, $4)")
                                .execute(Tuple.of(id, artifact, version, replica.id()))))
                .flatMap(x -> upload.get())
                .eventually(() -> pool.preparedQuery("delete from artifact_upload where id = $1")
                        .execute(Tuple.of(id)));
    }

    /** One collection, removing at most {@code limit} blobs of each kind. */
    public Uni<Collected> collect(int limit) {
        long[] freed = new long[2];
        boolean[] uploads = new boolean[1];
        return PeriodicJob.onOneReplica(
                        pool,
                        GATE,
                        () -> pool.withConnection(c -> uploading(c)
                                .invoke(busy -> uploads[0] = busy)
                                .flatMap(busy -> busy
                                        ? Uni.createFrom().item(Boolean.FALSE)
                                        : referenced(c)
                                                .flatMap(refs -> sweep(refs, limit))
                                                .flatMap(swept -> {
                                                    freed[0] = swept[0].size();
                                                    freed[1] = swept[1].size();
                                                    return c.preparedQuery(
                                                                    "delete from artifact_chunk where sha256 = any($1)")
                                                            .execute(Tuple.of(swept[0].stream()
                                                                    .map(Sha256::hex)
                                                                    .toArray(String[]::new)))
                                                            .replaceWith(Boolean.TRUE);
                                                }))))
                .map(ran -> {
                    chunksFreed.increment(freed[0]);
                    deltasFreed.increment(freed[1]);
                    if (freed[0] + freed[1] > 0) {
                        LOG.infof("collected %d chunks and %d deltas referred to by nothing", freed[0], freed[1]);
                    }
                    return new Collected(ran && !uploads[0], freed[0], freed[1]);
                });
    }

    private Uni<Boolean> uploading(SqlConnection c) {
        return c.preparedQuery(
                        "select count(*) from artifact_upload where started_at > now() - make_interval(secs => $1)")
                .execute(Tuple.of((double) UPLOAD_LAPSE.toSeconds()))
                .map(rows -> rows.iterator().next().getLong(0) > 0);
    }

    private record Referenced(Set<Sha256> chunks, Set<Sha256> deltas) {}

    /** Every chunk of every version, and every delta of every delta index. */
    private Uni<Referenced> referenced(SqlConnection c) {
        return c.query("select manifest from artifact_version")
                .execute()
                .flatMap(versions -> c.query("select delta_index from artifact_delta_index")
                        .execute()
                        .map(indexes -> {
                            Set<Sha256> chunks = new HashSet<>();
                            for (Row r : versions) {
                                Manifest m = Manifest.decode(SignedEnvelope.decode(
                                                r.getBuffer("manifest").getBytes())
                                        .payload());
                                for (ChunkRef ref : m.chunks()) {
                                    chunks.add(ref.hash());
                                }
                            }
                            Set<Sha256> deltas = new HashSet<>();
                            for (Row r : indexes) {
                                for (DeltaIndex.Entry e : DeltaIndex.decode(
                                                r.getBuffer("delta_index").getBytes())
                                        .entries()) {
                                    deltas.add(e.hash());
                                }
                            }
                            return new Referenced(chunks, deltas);
                        }));
    }

    /** Deletes unreferenced blobs (blocking store I/O, on a worker thread); the chunks and deltas deleted. */
    @SuppressWarnings("unchecked")
    private Uni<List<Sha256>[]> sweep(Referenced refs, int limit) {
        return Uni.createFrom()
                .item(() -> {
                    try {
                        return new List[] {
                            sweep(ChunkStore.Kind.CHUNK, refs.chunks(), limit),
                            sweep(ChunkStore.Kind.DELTA, refs.deltas(), limit)
                        };
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                })
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                .map(lists -> (List<Sha256>[]) lists);
    }

    private List<Sha256> sweep(ChunkStore.Kind kind, Set<Sha256> referenced, int limit) throws IOException {
        List<Sha256> unreferenced = new ArrayList<>();
        store.forEach(kind, hash -> {
            if (unreferenced.size() < limit && !referenced.contains(hash)) {
                unreferenced.add(hash);
            }
        });
        for (Sha256 hash : unreferenced) {
            store.delete(kind, hash);
        }
        return unreferenced;
    }
}
