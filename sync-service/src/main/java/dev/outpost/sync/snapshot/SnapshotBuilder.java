package dev.outpost.sync.snapshot;

import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.snapshot.ScopeSnapshot;
import dev.outpost.model.wire.RowStateCodec;
import dev.outpost.sync.artifact.ChunkStore;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.PeriodicJob;
import dev.outpost.sync.config.SchemaRegistry;
import dev.outpost.sync.store.Cursor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * Builds a snapshot of every scope ({@link ScopeSnapshot}): one read-only repeatable-read transaction reads the feed
 * watermark and then every row state, ordered by scope, so each file holds exactly the rows as of one snapshot and
 * names the cursor from which the feed carries on. A transaction that committed after that watermark but is seen by
 * the snapshot is in the file and comes again in the feed: merging it again changes nothing (every op is idempotent
 * state), so nothing is missed and nothing counts twice. Files go to the chunk store under their SHA-256; each scope
 * keeps its latest two (a device fetching the one before still finds it for a period).
 */
@ApplicationScoped
public class SnapshotBuilder {
    private static final Logger LOG = Logger.getLogger(SnapshotBuilder.class);

    /** The advisory lock of a build (no other lock of the service uses it). */
    static final long LOCK_KEY = 0x6f75_7470_736e_6170L;

    /** Snapshots kept per scope. */
    static final int KEPT = 2;

    private final Pool pool;
    private final ChunkStore store;
    private final SchemaRegistry schemas;
    private final PeriodicJob job;
    private final Counter rowsWritten;

    public SnapshotBuilder(
            Pool pool,
            ChunkStore store,
            SchemaRegistry schemas,
            OutpostConfig config,
            Vertx vertx,
            MeterRegistry metrics) {
        this.pool = pool;
        this.store = store;
        this.schemas = schemas;
        this.rowsWritten = metrics.counter("outpost.snapshots.rows");
        this.job = new PeriodicJob(
                vertx, "building scope snapshots", config.snapshots().every(), this::build);
    }

    void start(@Observes StartupEvent ev) {
        job.start(false);
    }

    void stop(@Observes ShutdownEvent ev) {
        job.stop();
    }

    /** A snapshot built: its scope, name, cursor and size. */
    public record Built(String scope, Sha256 sha256, String cursor, long rows, long bytes) {}

    /** Builds every scope's snapshot now (empty when another replica is building). */
    public Uni<List<Built>> build() {
        List<Built> built = new ArrayList<>();
        return PeriodicJob.onOneReplica(pool, LOCK_KEY, () -> write().flatMap(files -> record(files, built)))
                .map(ran -> built);
    }

    private record File(String scope, Path path, String cursor, int schemaVersion, long rows) {}

    /** Writes one file per scope from one database snapshot, on a worker thread. */
    private Uni<List<File>> write() {
        Schema schema = schemas.current();
        int schemaVersion = schema.version();
        return pool.withTransaction(tx -> tx.query("set transaction isolation level repeatable read, read only")
                .execute()
                .flatMap(x -> tx.query("select pg_snapshot_xmin(pg_current_snapshot())::text as xmin")
                        .execute())
                .flatMap(w -> {
                    String cursor =
                            new Cursor(Long.parseLong(w.iterator().next().getString("xmin")), 0).toString();
                    Files writer = new Files(cursor, schema);
                    return tx.prepare("select scope, tbl, id, deleted, state from row_state order by scope, tbl, id")
                            .onItem()
                            .transformToMulti(ps -> ps.createStream(2000).toMulti())
                            .emitOn(Infrastructure.getDefaultWorkerPool())
                            .onItem()
                            .invoke(writer::add)
                            .onFailure()
                            .invoke(e -> writer.abandon())
                            .collect()
                            .last()
                            .map(last -> writer.finish());
                }));
    }

    /** Per scope in turn (rows come ordered by scope): one open file at a time. */
    private final class Files {
        private final String cursor;
        private final int schemaVersion;
        private final RowStateCodec codec;
        private final List<File> done = new ArrayList<>();
        private String scope;
        private Path path;
        private ScopeSnapshot.Writer out;

        Files(String cursor, Schema schema) {
            this.cursor = cursor;
            this.schemaVersion = schema.version();
            this.codec = new RowStateCodec(schema);
        }

        void add(Row r) {
            try {
                String s = r.getString("scope");
                if (!s.equals(scope)) {
                    close();
                    scope = s;
                    path = java.nio.file.Files.createTempFile("outpost-snapshot-", ".zst");
                    OutputStream file = java.nio.file.Files.newOutputStream(path);
                    out = new ScopeSnapshot.Writer(file, new ScopeSnapshot.Header(s, cursor, schemaVersion));
                }
                String table = r.getString("tbl");
                String id = r.getString("id");
                out.row(
                        table,
                        id,
                        r.getBoolean("deleted"),
                        compact(table, id, s, r.getBuffer("state").getBytes()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /**
         * The state in the CBOR form: rows stored before V9 are JSON text, more bytes for a device to store (the
         * bootstrap benchmark's district: 264 MB on the device against 227 MB) and slower to read. One that does not
         * read under the current schema goes as it is.
         */
        private byte[] compact(String table, String id, String scope, byte[] state) {
            if (state.length == 0 || state[0] != '{') {
                return state;
            }
            try {
                return codec.encodeBinary(codec.decode(table, id, scope, state));
            } catch (RuntimeException e) {
                return state;
            }
        }

        private void close() throws IOException {
            if (out != null) {
                out.close();
                done.add(new File(scope, path, cursor, schemaVersion, out.rows()));
                out = null;
            }
        }

        List<File> finish() {
            try {
                close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return done;
        }

        void abandon() {
            try {
                if (out != null) {
                    out.close();
                    java.nio.file.Files.deleteIfExists(path);
                }
                for (File f : done) {
                    java.nio.file.Files.deleteIfExists(f.path());
                }
            } catch (IOException e) {
                LOG.warnf("temporary snapshot files left behind: %s", e.toString());
            }
        }
    }

    /** Stores each file under its hash (worker thread), records it, and drops each scope's older snapshots. */
    private Uni<Void> record(List<File> files, List<Built> built) {
        Uni<Void> chain = Uni.createFrom().voidItem();
        for (File f : files) {
            chain = chain.flatMap(x -> Uni.createFrom()
                    .item(() -> storeFile(f))
                    .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                    .flatMap(b -> pool.preparedQuery("insert into scope_snapshot"
                                    + " (sha256, scope, cursor, schema_version, rows, bytes) values ($1, $2, $3, $4, $5, $6)"
                                    + " on conflict (sha256) do nothing")
                            .execute(Tuple.from(List.of(
                                    b.sha256().hex(), b.scope(), b.cursor(), f.schemaVersion(), b.rows(), b.bytes())))
                            .invoke(ignored -> {
                                built.add(b);
                                rowsWritten.increment(b.rows());
                            })
                            .flatMap(ignored -> dropOlder(b.scope()))));
        }
        return chain;
    }

    private Built storeFile(File f) {
        try {
            Sha256 hash;
            try (var in = java.nio.file.Files.newInputStream(f.path())) {
                hash = Sha256.digest(in);
            }
            long bytes = java.nio.file.Files.size(f.path());
            store.putFile(ChunkStore.Kind.SNAPSHOT, hash, f.path());
            java.nio.file.Files.deleteIfExists(f.path());
            return new Built(f.scope(), hash, f.cursor(), f.rows(), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Keeps the scope's latest {@link #KEPT} snapshots; the rest leave the table, then the store. */
    private Uni<Void> dropOlder(String scope) {
        return pool.preparedQuery("delete from scope_snapshot where sha256 in (select sha256 from scope_snapshot"
                        + " where scope = $1 order by built_at desc offset $2) returning sha256")
                .execute(Tuple.of(scope, KEPT))
                .flatMap(rows -> {
                    List<Sha256> gone = new ArrayList<>();
                    rows.forEach(r -> gone.add(Sha256.parse(r.getString("sha256"))));
                    if (gone.isEmpty()) {
                        return Uni.createFrom().voidItem();
                    }
                    return Uni.createFrom()
                            .item(() -> {
                                for (Sha256 h : gone) {
                                    try {
                                        store.delete(ChunkStore.Kind.SNAPSHOT, h);
                                    } catch (IOException e) {
                                        LOG.warnf("snapshot %s left in the store: %s", h.hex(), e.toString());
                                    }
                                }
                                return null;
                            })
                            .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                            .replaceWithVoid();
                });
    }
}
