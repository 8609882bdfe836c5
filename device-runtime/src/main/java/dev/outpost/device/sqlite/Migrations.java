package dev.outpost.device.sqlite;

import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The local database's layout as numbered steps, recorded in {@code PRAGMA user_version}. Each step runs once, in
 * its own transaction with the version bump, so a crash in between leaves the older version to run again. A step
 * never changes once shipped; the homes of each shipped layout are kept under {@code src/test/fixtures} and opened
 * by {@code MigrationsIT}. A database with a version above {@link #LATEST} comes from a newer runtime and is refused,
 * changing nothing.
 */
final class Migrations {
    private Migrations() {}

    private interface Step {
        void apply(Statement s) throws SQLException;
    }

    private static final List<Step> STEPS = List.of(
            // 1: the layout of the first releases (homes of before numbered migrations have user_version 0 and all
            // or most of it). The change log's seq is a plain rowid (entries are never deleted, and AUTOINCREMENT
            // would update sqlite_sequence on every write; the first release's homes keep theirs); pending changes
            // are found by seq above the settled mark, refused ones through a partial index a new entry never enters.
            s -> ddl(s, """
                    create table if not exists meta (key text primary key, value text not null);
                    create table if not exists row_state (
                        tbl text not null, id text not null, scope text not null, state text not null,
                        deleted integer not null default 0, conflicts integer not null default 0,
                        primary key (tbl, id)) without rowid;
                    create index if not exists row_state_conflicts on row_state (conflicts) where conflicts > 0;
                    create table if not exists change_log (
                        seq integer primary key, change text not null,
                        batch_id text, status text not null default 'pending', code text, message text);
                    drop index if exists change_log_status;
                    create index if not exists change_log_refused on change_log (seq) where status = 'refused';
                    create table if not exists model_install (
                        artifact text primary key, target_version integer not null, from_version integer,
                        assignment blob not null, manifest blob not null, delta_index blob,
                        slot text not null, phase text not null, step_done integer not null default 0,
                        bytes_downloaded integer not null default 0, health_tries integer not null default 0);
                    create table if not exists model_install_progress (
                        artifact text primary key, phase text not null, step_done integer not null,
                        bytes_downloaded integer not null, health_tries integer not null);
                    create table if not exists model_report (id integer primary key autoincrement, body text not null)
                    """),
            // 2: model state per artifact in typed columns (it was meta keys split on '.', which a name with a '.'
            // broke), the count of dropped install reports, and the server-confirmed base of rows with unaccepted
            // changes (a discarded change is undone from it).
            s -> {
                ddl(s, """
                        create table model_artifact (
                            artifact text primary key, assignment text, highest_version integer,
                            highest_issued_at integer, failed_version integer, hold_version integer,
                            refused_assignment text, last_outcome text);
                        create table row_base (
                            tbl text not null, id text not null, state text,
                            primary key (tbl, id)) without rowid
                        """);
                moveModelSettings(s);
            },
            // 3: the changes feed apps follow (rows saved, by local writes and by syncs); seq is the rowid.
            s -> ddl(s, """
                    create table row_feed (
                        seq integer primary key, tbl text not null, id text not null,
                        deleted integer not null, origin text not null)
                    """),
            // 4: a local write's feed entries are its change-log entries (one page fewer a write): the two tables
            // share one seq from here on. Entries of before are dropped, and the feed starts above every seq given
            // (a reader's place from before is older than the feed: it reads the tables again); a row at that seq
            // keeps the next seq above it.
            s -> ddl(s, """
                    create temp table feed_floor as select max(coalesce((select max(seq) from change_log), 0),
                        coalesce((select max(seq) from row_feed), 0)) as seq;
                    delete from row_feed;
                    insert into meta (key, value) select 'feed_floor', seq from temp.feed_floor where seq > 0
                        on conflict (key) do update set value = excluded.value;
                    insert into row_feed (seq, tbl, id, deleted, origin)
                        select seq, '', '', 0, 'floor' from temp.feed_floor where seq > 0;
                    drop table temp.feed_floor
                    """));

    static final int LATEST = STEPS.size();

    static void run(SqliteDatabase db, Path file) throws SQLException {
        int version;
        try (Statement s = db.connection().createStatement();
                ResultSet rs = s.executeQuery("pragma user_version")) {
            version = rs.next() ? rs.getInt(1) : 0;
        }
        db.connection().commit();
        if (version > LATEST) {
            throw SqliteDatabase.storage(
                    "the local database " + file + " has layout " + version + ", newer than this outpost knows ("
                            + LATEST + "): use the outpost that wrote it",
                    null);
        }
        for (int v = version + 1; v <= LATEST; v++) {
            try (Statement s = db.connection().createStatement()) {
                STEPS.get(v - 1).apply(s);
                s.execute("pragma user_version = " + v);
                db.connection().commit();
            } catch (SQLException | RuntimeException e) {
                db.connection().rollback();
                throw e;
            }
        }
    }

    private static void ddl(Statement s, String statements) throws SQLException {
        for (String ddl : statements.split(";")) {
            if (!ddl.isBlank()) {
                s.execute(ddl);
            }
        }
    }

    /** The meta keys {@code model.NAME.FIELD} (NAME may hold '.': FIELD is after the last one) into model_artifact. */
    private static void moveModelSettings(Statement s) throws SQLException {
        var c = s.getConnection();
        List<String> fields = List.of(
                "assignment",
                "highest_version",
                "highest_issued_at",
                "failed_version",
                "hold_version",
                "refused_assignment",
                "last_outcome");
        try (ResultSet rs = s.executeQuery("select key, value from meta where key like 'model.%.%'");
                PreparedStatement insert = c.prepareStatement(
                        "insert into model_artifact (artifact) values (?) on conflict (artifact) do nothing")) {
            List<String[]> moved = new java.util.ArrayList<>();
            while (rs.next()) {
                String key = rs.getString(1);
                int dot = key.lastIndexOf('.');
                String field = key.substring(dot + 1);
                if (dot > "model.".length() && fields.contains(field)) {
                    moved.add(new String[] {key, key.substring("model.".length(), dot), field, rs.getString(2)});
                }
            }
            for (String[] m : moved) {
                insert.setString(1, m[1]);
                insert.executeUpdate();
                // The column name comes from the fixed list above, never from the data.
                try (PreparedStatement set =
                        c.prepareStatement("update model_artifact set " + m[2] + " = ? where artifact = ?")) {
                    if (m[2].equals("assignment") || m[2].equals("refused_assignment") || m[2].equals("last_outcome")) {
                        set.setString(1, m[3].isEmpty() ? null : m[3]);
                    } else {
                        set.setObject(1, m[3].isEmpty() ? null : Long.parseLong(m[3]));
                    }
                    set.setString(2, m[1]);
                    set.executeUpdate();
                }
                try (PreparedStatement delete = c.prepareStatement("delete from meta where key = ?")) {
                    delete.setString(1, m[0]);
                    delete.executeUpdate();
                }
            }
        }
        s.execute("insert into meta (key, value) values ('reports_dropped', '0') on conflict (key) do nothing");
    }
}
