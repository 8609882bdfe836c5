package dev.outpost.sync.store;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.ChunkRef;
import dev.outpost.model.artifact.Manifest;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The artifact tables through the reactive PostgreSQL client. */
@ApplicationScoped
public class ArtifactStore {
    private final Pool pool;

    public ArtifactStore(Pool pool) {
        this.pool = pool;
    }

    /** One stored version as the admin API and the device endpoints see it. */
    public record VersionRow(
            String artifact,
            long version,
            byte[] envelope,
            String manifestSha256,
            long sizeBytes,
            long storedBytes,
            long newStoredBytes,
            int chunkCount,
            OffsetDateTime createdAt,
            String createdBy) {}

    public record Desired(
            String artifact, long version, boolean rollback, String manifestSha256, OffsetDateTime setAt) {}

    public record Report(
            String artifact,
            Long fromVersion,
            long toVersion,
            Long activeVersion,
            String outcome,
            String errorCode,
            long bytesDownloaded) {}

    public Uni<Boolean> versionExists(String artifact, long version) {
        return pool.preparedQuery("select 1 from artifact_version where artifact = $1 and version = $2"
                        + " union all select 1 from artifact_version_deleted where artifact = $1 and version = $2")
                .execute(Tuple.of(artifact, version))
                .map(rows -> rows.size() > 0);
    }

    /**
     * Records a version whose chunks are all in the chunk store, with the bytes its new chunks added (the rest were
     * stored already: that is the dedup saving). 409 when the version exists.
     */
    public Uni<VersionRow> insertVersion(Manifest m, byte[] envelope, String manifestSha, String actor) {
        List<String> hashes = new ArrayList<>();
        List<Integer> raw = new ArrayList<>();
        List<Integer> stored = new ArrayList<>();
        Map<String, ChunkRef> distinct = new LinkedHashMap<>();
        for (ChunkRef c : m.chunks()) {
            distinct.putIfAbsent(c.hash().hex(), c);
        }
        distinct.forEach((h, c) -> {
            hashes.add(h);
            raw.add(c.rawLength());
            stored.add(c.storedLength());
        });
        return pool.withTransaction(tx -> tx.preparedQuery(
                                "with added as (insert into artifact_chunk (sha256, raw_bytes, stored_bytes)"
                                        + " select * from unnest($1::text[], $2::int[], $3::int[])"
                                        + " on conflict (sha256) do nothing returning stored_bytes)"
                                        + " select coalesce(sum(stored_bytes), 0) as added from added")
                        .execute(Tuple.of(
                                hashes.toArray(String[]::new),
                                raw.toArray(Integer[]::new),
                                stored.toArray(Integer[]::new)))
                        .flatMap(added -> {
                            long newBytes = added.iterator().next().getLong("added");
                            return tx.preparedQuery(
                                            "insert into artifact_version (artifact, version, manifest, manifest_sha256, size_bytes,"
                                                    + " stored_bytes, new_stored_bytes, chunk_count, created_by)"
                                                    + " values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *")
                                    .execute(Tuple.from(List.of(
                                            m.artifact(),
                                            m.version(),
                                            Buffer.buffer(envelope),
                                            manifestSha,
                                            m.size(),
                                            m.storedSize(),
                                            newBytes,
                                            m.chunkCount(),
                                            actor)));
                        }))
                .map(rows -> version(rows.iterator().next()))
                .onFailure(e -> e instanceof PgException pg && "23505".equals(pg.getSqlState()))
                .transform(e -> new OutpostException(
                        ErrorCode.ALREADY_EXISTS,
                        m.artifact() + " version " + m.version() + " exists; versions are immutable"));
    }

    public Uni<Optional<VersionRow>> getVersion(String artifact, long version) {
        return pool.preparedQuery("select * from artifact_version where artifact = $1 and version = $2")
                .execute(Tuple.of(artifact, version))
                .map(rows -> rows.size() == 0
                        ? Optional.empty()
                        : Optional.of(version(rows.iterator().next())));
    }

    /** Every version, newest artifact name order then version descending. */
    public Uni<List<VersionRow>> listVersions() {
        return pool.query("select * from artifact_version order by artifact, version desc")
                .execute()
                .map(rows -> {
                    List<VersionRow> out = new ArrayList<>();
                    rows.forEach(r -> out.add(version(r)));
                    return out;
                });
    }

    public Uni<Optional<byte[]>> getDeltaIndex(String fromManifest, String toManifest) {
        return pool.preparedQuery(
                        "select delta_index from artifact_delta_index where from_manifest = $1 and to_manifest = $2")
                .execute(Tuple.of(fromManifest, toManifest))
                .map(rows -> rows.size() == 0
                        ? Optional.empty()
                        : Optional.of(
                                rows.iterator().next().getBuffer("delta_index").getBytes()));
    }

    /** A delta index computed into a version: from which version, and the bytes its deltas take. */
    public record DeltaFrom(long version, long deltaBytes) {}

    /** The versions of {@code artifact} from which chunk-local deltas to {@code toManifest} are computed already. */
    public Uni<List<DeltaFrom>> deltasInto(String artifact, String toManifest) {
        return pool.preparedQuery("select v.version, d.delta_bytes from artifact_delta_index d"
                        + " join artifact_version v on v.artifact = $1 and v.manifest_sha256 = d.from_manifest"
                        + " where d.to_manifest = $2 order by v.version")
                .execute(Tuple.of(artifact, toManifest))
                .map(rows -> {
                    List<DeltaFrom> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new DeltaFrom(r.getLong("version"), r.getLong("delta_bytes"))));
                    return out;
                });
    }

    /**
     * Claims the computation of the deltas from one manifest to another for {@code replica}, for
     * {@code leaseSeconds}: true when this replica holds the claim now (new, its own, or another's that lapsed),
     * false while another replica's claim holds.
     */
    public Uni<Boolean> claimDeltaJob(String fromManifest, String toManifest, String replica, long leaseSeconds) {
        return pool.preparedQuery("insert into delta_job as j (from_manifest, to_manifest, replica, claimed_until)"
                        + " values ($1, $2, $3, now() + make_interval(secs => $4))"
                        + " on conflict (from_manifest, to_manifest) do update"
                        + " set replica = excluded.replica, claimed_until = excluded.claimed_until"
                        + " where j.replica = excluded.replica or j.claimed_until < now()"
                        + " returning replica")
                .execute(Tuple.of(fromManifest, toManifest, replica, (double) leaseSeconds))
                .map(rows -> rows.size() == 1);
    }

    /** Gives up a claim of {@code replica} (its job finished or failed). */
    public Uni<Void> releaseDeltaJob(String fromManifest, String toManifest, String replica) {
        return pool.preparedQuery(
                        "delete from delta_job where from_manifest = $1 and to_manifest = $2 and replica = $3")
                .execute(Tuple.of(fromManifest, toManifest, replica))
                .replaceWithVoid();
    }

    public Uni<Void> saveDeltaIndex(String fromManifest, String toManifest, byte[] index, long deltaBytes) {
        return pool.preparedQuery(
                        "insert into artifact_delta_index (from_manifest, to_manifest, delta_index, delta_bytes)"
                                + " values ($1, $2, $3, $4) on conflict do nothing")
                .execute(Tuple.of(fromManifest, toManifest, Buffer.buffer(index), deltaBytes))
                .replaceWithVoid();
    }

    /**
     * Sets the desired version; below the highest version ever desired for the artifact it is flagged a rollback
     * (decided in the same statement, so concurrent admins cannot lose the flag).
     */
    public Uni<Desired> setDesired(String artifact, long version, String actor) {
        return pool.preparedQuery("insert into artifact_desired (artifact, version, highest_version, rollback, set_by)"
                        + " values ($1, $2, $2, false, $3)"
                        + " on conflict (artifact) do update set version = excluded.version,"
                        + " highest_version = greatest(artifact_desired.highest_version, excluded.version),"
                        + " rollback = excluded.version < greatest(artifact_desired.highest_version, excluded.version),"
                        + " set_at = now(), set_by = excluded.set_by")
                .execute(Tuple.of(artifact, version, actor))
                .flatMap(x -> listDesired())
                .map(all -> all.stream()
                        .filter(d -> d.artifact().equals(artifact))
                        .findFirst()
                        .orElseThrow());
    }

    public Uni<List<Desired>> listDesired() {
        return pool.query(
                        "select d.artifact, d.version, d.rollback, d.set_at, v.manifest_sha256 from artifact_desired d"
                                + " join artifact_version v on v.artifact = d.artifact and v.version = d.version"
                                + " order by d.artifact")
                .execute()
                .map(rows -> {
                    List<Desired> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new Desired(
                            r.getString("artifact"),
                            r.getLong("version"),
                            r.getBoolean("rollback"),
                            r.getString("manifest_sha256"),
                            r.getOffsetDateTime("set_at"))));
                    return out;
                });
    }

    public Uni<Void> recordReport(String deviceId, Report r) {
        return pool.withTransaction(tx -> tx.preparedQuery(
                                "insert into model_report (device_id, artifact, from_version, to_version, active_version,"
                                        + " outcome, error_code, bytes_downloaded) values ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .execute(Tuple.from(java.util.Arrays.asList(
                                deviceId,
                                r.artifact(),
                                r.fromVersion(),
                                r.toVersion(),
                                r.activeVersion(),
                                r.outcome(),
                                r.errorCode(),
                                r.bytesDownloaded())))
                        .flatMap(x -> tx.preparedQuery(
                                        "insert into device_model (device_id, artifact, active_version, outcome, error_code,"
                                                + " target_version, kept_version) values ($1, $2, $3, $4, $5, $6, $7)"
                                                + " on conflict (device_id, artifact) do update set"
                                                + " active_version = excluded.active_version, outcome = excluded.outcome,"
                                                + " error_code = excluded.error_code, target_version = excluded.target_version,"
                                                + " kept_version = coalesce(excluded.kept_version, device_model.kept_version),"
                                                + " reported_at = now()")
                                .execute(Tuple.from(java.util.Arrays.asList(
                                        deviceId,
                                        r.artifact(),
                                        r.activeVersion(),
                                        r.outcome(),
                                        r.errorCode(),
                                        r.toVersion(),
                                        // An install keeps the version it came from in the other slot.
                                        "installed".equals(r.outcome()) ? r.fromVersion() : null)))))
                .replaceWithVoid();
    }

    /**
     * Deletes a version that nothing needs: not desired, not in a rollout in flight, and not run, targeted or kept by
     * any device that is not revoked ({@code version-in-use} says which otherwise); its delta indexes go with it.
     * Its chunks and deltas stay in the store until {@code ArtifactGc} finds nothing refers to them.
     */
    public Uni<Void> deleteVersion(String artifact, long version, String actor) {
        return pool.withTransaction(tx -> tx.preparedQuery("select manifest_sha256 from artifact_version"
                                + " where artifact = $1 and version = $2 for update")
                        .execute(Tuple.of(artifact, version))
                        .flatMap(rows -> {
                            if (rows.size() == 0) {
                                throw new OutpostException(
                                        ErrorCode.NOT_FOUND, "no " + artifact + " version " + version);
                            }
                            String sha = rows.iterator().next().getString("manifest_sha256");
                            return tx.preparedQuery(
                                            "select"
                                                    + " (select count(*) from artifact_desired where artifact = $1 and version = $2)"
                                                    + " as desired,"
                                                    + " (select string_agg(id::text, ', ' order by id) from rollout where artifact = $1"
                                                    + " and status in ('DRAFT', 'RUNNING', 'PAUSED')"
                                                    + " and $2 in (version, previous_version)) as rollouts,"
                                                    + " (select count(*) from device_model m join device d on d.id = m.device_id"
                                                    + " where m.artifact = $1 and d.revoked_at is null"
                                                    + " and $2 in (m.active_version, m.target_version, m.kept_version)) as devices")
                                    .execute(Tuple.of(artifact, version))
                                    .flatMap(uses -> {
                                        var u = uses.iterator().next();
                                        List<String> why = new ArrayList<>();
                                        if (u.getLong("desired") > 0) {
                                            why.add("it is the desired version");
                                        }
                                        if (u.getString("rollouts") != null) {
                                            why.add("rollout " + u.getString("rollouts") + " in flight uses it");
                                        }
                                        if (u.getLong("devices") > 0) {
                                            why.add(u.getLong("devices") + " devices run, install or keep it");
                                        }
                                        if (!why.isEmpty()) {
                                            throw new OutpostException(
                                                    ErrorCode.VERSION_IN_USE,
                                                    artifact + " version " + version + " cannot be deleted: "
                                                            + String.join("; ", why));
                                        }
                                        return tx.preparedQuery("delete from artifact_delta_index"
                                                        + " where from_manifest = $1 or to_manifest = $1")
                                                .execute(Tuple.of(sha))
                                                .flatMap(x -> tx.preparedQuery("delete from artifact_version"
                                                                + " where artifact = $1 and version = $2")
                                                        .execute(Tuple.of(artifact, version)))
                                                .flatMap(x -> tx.preparedQuery(
                                                                "insert into artifact_version_deleted"
                                                                        + " (artifact, version, deleted_by) values ($1, $2, $3)")
                                                        .execute(Tuple.of(artifact, version, actor)));
                                    });
                        }))
                .replaceWithVoid();
    }

    /** The latest report per device for one artifact: device id -> (active version, outcome, error code). */
    public Uni<List<Map<String, Object>>> deviceModels(String artifact) {
        return pool.preparedQuery("select device_id, active_version, outcome, error_code, reported_at from device_model"
                        + " where artifact = $1 order by device_id")
                .execute(Tuple.of(artifact))
                .map(rows -> {
                    List<Map<String, Object>> out = new ArrayList<>();
                    rows.forEach(r -> {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("deviceId", r.getString("device_id"));
                        m.put("activeVersion", r.getLong("active_version"));
                        m.put("outcome", r.getString("outcome"));
                        m.put("errorCode", r.getString("error_code"));
                        m.put("reportedAt", r.getOffsetDateTime("reported_at").toString());
                        out.add(m);
                    });
                    return out;
                });
    }

    private static VersionRow version(Row r) {
        return new VersionRow(
                r.getString("artifact"),
                r.getLong("version"),
                r.getBuffer("manifest").getBytes(),
                r.getString("manifest_sha256"),
                r.getLong("size_bytes"),
                r.getLong("stored_bytes"),
                r.getLong("new_stored_bytes"),
                r.getInteger("chunk_count"),
                r.getOffsetDateTime("created_at"),
                r.getString("created_by"));
    }
}
