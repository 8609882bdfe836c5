package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * Head office's corrections reach a tablet: the real service with its typed tables, the real {@code outpost} binary. A
 * field officer's row is read at the office with SQL, corrected once through the admin data API and once with a plain
 * SQL {@code UPDATE} (as psql or a reporting tool's write-back would), and each correction is what the tablet's
 * {@code outpost get} and its own typed table show after its next sync. A forbidden SQL write fails and changes
 * nothing anywhere.
 */
class OfficeCorrectionIT extends WithService {

    @Test
    void correctionsMadeThroughTheApiAndWithPlainSqlReachTheTablet() throws Exception {
        Outpost tablet = new Outpost(dir.resolve("officer"));
        tablet.run(
                        "init",
                        "--server",
                        service.url,
                        "--device-id",
                        "officer",
                        "--token",
                        service.register("officer", "nakuru"))
                .ok();
        tablet.run("put", "farmer", "f1", "name=Wanjiru Kamau", "village=Njoro", "phone=+254700000001")
                .ok();
        tablet.run("sync").ok();

        try (Connection office = Service.office(dir);
                Statement sql = office.createStatement()) {
            // The office reads the field's row with SQL, typed.
            try (ResultSet r = sql.executeQuery(
                    "select name, village, phone from outpost_data.farmer where district = 'nakuru' and id = 'f1'")) {
                assertTrue(r.next(), "the typed table holds the synced farmer");
                assertEquals("Wanjiru Kamau", r.getString("name"));
                assertEquals("Njoro", r.getString("village"));
            }

            // A correction through the admin data API.
            HttpResponse<String> patched =
                    service.admin("PATCH", "/v1/admin/data/farmer/f1", "{\"phone\": \"+254700000099\"}");
            assertEquals(200, patched.statusCode(), patched.body());
            tablet.run("sync").ok();
            JsonNode farmer =
                    TestJson.parse(tablet.run("get", "farmer", "f1").ok().out());
            assertEquals("+254700000099", farmer.get("phone").asText(), farmer.toString());

            // A correction with plain SQL, committed; the service applies it as a server change.
            assertEquals(1, sql.executeUpdate("update outpost_data.farmer set village = 'Molo' where id = 'f1'"));
            awaitApplied(sql);
            tablet.run("sync").ok();
            farmer = TestJson.parse(tablet.run("get", "farmer", "f1").ok().out());
            assertEquals("Molo", farmer.get("village").asText(), farmer.toString());
            assertEquals("+254700000099", farmer.get("phone").asText(), farmer.toString());
            JsonNode typed = TestJson.parse(tablet.run("query", "select village, phone from farmer where id = ?", "f1")
                    .ok()
                    .out()
                    .strip());
            assertEquals("Molo", typed.get("village").asText(), typed.toString());

            // A write SQL may not make (changing a row's id) fails the statement; nothing moves.
            SQLException refused = assertThrows(
                    SQLException.class,
                    () -> sql.executeUpdate("update outpost_data.farmer set id = 'f2' where id = 'f1'"));
            assertTrue(refused.getMessage().contains("id never changes"), refused.getMessage());
            try (ResultSet r = sql.executeQuery("select count(*) from data_write")) {
                r.next();
                assertEquals(0, r.getLong(1), "the failed statement queued nothing");
            }
            tablet.run("sync").ok();
            assertEquals(
                    "Molo",
                    TestJson.parse(tablet.run("get", "farmer", "f1").ok().out())
                            .get("village")
                            .asText());
            assertEquals(2, tablet.run("get", "farmer", "f2").exit(), "no row f2 appeared");
        }
    }

    /** Waits (20 s at most) until the service has taken every queued SQL write; fails on a refused one. */
    private static void awaitApplied(Statement sql) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            try (ResultSet r = sql.executeQuery(
                    "select count(*) filter (where refused is null), string_agg(refused, '; ') from data_write")) {
                r.next();
                assertEquals(null, r.getString(2), "a SQL write was refused");
                if (r.getLong(1) == 0) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, "SQL writes still queued after 20 s");
            Thread.sleep(50);
        }
    }
}
