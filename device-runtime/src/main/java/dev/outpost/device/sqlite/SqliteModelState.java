package dev.outpost.device.sqlite;

import static dev.outpost.device.sqlite.SqliteDatabase.sql;

import dev.outpost.device.model.install.InstallState;
import dev.outpost.device.model.install.ModelInstall;
import dev.outpost.device.store.ModelState;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** {@link ModelState} over {@code model_artifact}, {@code model_install} and {@code model_install_progress}. */
public final class SqliteModelState implements ModelState {
    private final SqliteDatabase db;

    public SqliteModelState(SqliteDatabase db) {
        this.db = db;
    }

    @Override
    public ArtifactState get(String artifact) {
        return sql(() -> {
            try (var ps = db.prepared("select assignment, highest_version, highest_issued_at, failed_version,"
                    + " hold_version, refused_assignment, last_outcome from model_artifact where artifact = ?")) {
                ps.statement().setString(1, artifact);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    if (!rs.next()) {
                        return ArtifactState.NONE;
                    }
                    return new ArtifactState(
                            rs.getString(1),
                            nullableLong(rs, 2),
                            nullableLong(rs, 3),
                            nullableLong(rs, 4),
                            nullableLong(rs, 5),
                            rs.getString(6),
                            rs.getString(7));
                }
            }
        });
    }

    @Override
    public void put(String artifact, ArtifactState s) {
        sql(() -> {
            try (var ps = db.prepared("insert or replace into model_artifact (artifact, assignment, highest_version,"
                    + " highest_issued_at, failed_version, hold_version, refused_assignment, last_outcome)"
                    + " values (?, ?, ?, ?, ?, ?, ?, ?)")) {
                PreparedStatement st = ps.statement();
                st.setString(1, artifact);
                st.setString(2, s.assignment());
                setLong(st, 3, s.highestVersion());
                setLong(st, 4, s.highestIssuedAtMs());
                setLong(st, 5, s.failedVersion());
                setLong(st, 6, s.holdVersion());
                st.setString(7, s.refusedAssignment());
                st.setString(8, s.lastOutcome());
                return st.executeUpdate();
            }
        });
    }

    @Override
    public List<String> findArtifacts() {
        return sql(() -> {
            List<String> out = new ArrayList<>();
            try (var ps = db.prepared("select artifact from model_artifact order by artifact");
                    ResultSet rs = ps.statement().executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        });
    }

    @Override
    public Optional<ModelInstall> getInstall(String artifact) {
        return sql(() -> {
            try (var ps = db.prepared("select i.target_version, i.from_version, i.assignment, i.manifest,"
                    + " i.delta_index, i.slot, coalesce(p.phase, i.phase), coalesce(p.step_done, i.step_done),"
                    + " coalesce(p.bytes_downloaded, i.bytes_downloaded), coalesce(p.health_tries, i.health_tries)"
                    + " from model_install i left join model_install_progress p on p.artifact = i.artifact"
                    + " where i.artifact = ?")) {
                ps.statement().setString(1, artifact);
                try (ResultSet rs = ps.statement().executeQuery()) {
                    if (!rs.next()) {
                        return Optional.empty();
                    }
                    String phase = rs.getString(7);
                    InstallState state = InstallState.of(phase, rs.getInt(8), rs.getInt(10));
                    if (state == null) {
                        throw SqliteDatabase.storage(
                                "the install record of " + artifact + " has an unknown phase '" + phase + "'", null);
                    }
                    return Optional.of(new ModelInstall(
                            artifact,
                            rs.getLong(1),
                            nullableLong(rs, 2),
                            rs.getBytes(3),
                            rs.getBytes(4),
                            rs.getBytes(5),
                            rs.getString(6),
                            state,
                            rs.getLong(9)));
                }
            }
        });
    }

    @Override
    public void saveInstall(ModelInstall m) {
        sql(() -> {
            try (var ps = db.prepared("insert or replace into model_install (artifact, target_version, from_version,"
                    + " assignment, manifest, delta_index, slot, phase, step_done, bytes_downloaded, health_tries)"
                    + " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                PreparedStatement st = ps.statement();
                st.setString(1, m.artifact());
                st.setLong(2, m.targetVersion());
                setLong(st, 3, m.fromVersion());
                // The install record's manifest column stays empty: the manifest lives in the slot's files.
                st.setBytes(4, m.assignment());
                st.setBytes(5, m.manifest() == null ? new byte[0] : m.manifest());
                st.setBytes(6, m.deltaIndex());
                st.setString(7, m.slot());
                st.setString(8, m.state().key());
                st.setInt(9, m.state().stepsDone());
                st.setLong(10, m.bytesDownloaded());
                st.setInt(11, m.state().healthTries());
                return st.executeUpdate();
            }
        });
        deleteProgress(m.artifact()); // the row just written holds the progress
    }

    @Override
    public void saveInstallProgress(ModelInstall m) {
        sql(() -> {
            try (var ps = db.prepared("insert or replace into model_install_progress"
                    + " (artifact, phase, step_done, bytes_downloaded, health_tries) values (?, ?, ?, ?, ?)")) {
                PreparedStatement st = ps.statement();
                st.setString(1, m.artifact());
                st.setString(2, m.state().key());
                st.setInt(3, m.state().stepsDone());
                st.setLong(4, m.bytesDownloaded());
                st.setInt(5, m.state().healthTries());
                return st.executeUpdate();
            }
        });
    }

    @Override
    public void deleteInstall(String artifact) {
        sql(() -> {
            try (var ps = db.prepared("delete from model_install where artifact = ?")) {
                ps.statement().setString(1, artifact);
                return ps.statement().executeUpdate();
            }
        });
        deleteProgress(artifact);
    }

    private void deleteProgress(String artifact) {
        sql(() -> {
            try (var ps = db.prepared("delete from model_install_progress where artifact = ?")) {
                ps.statement().setString(1, artifact);
                return ps.statement().executeUpdate();
            }
        });
    }

    private static Long nullableLong(ResultSet rs, int column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : v;
    }

    private static void setLong(PreparedStatement st, int index, Long value) throws SQLException {
        if (value == null) {
            st.setNull(index, Types.INTEGER);
        } else {
            st.setLong(index, value);
        }
    }
}
