package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.home.DeviceHome;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A corrupt page in the device's database, end to end through the real binary: commands say the file is damaged and
 * point to the doctor (exit 5); {@code outpost doctor} finds it; {@code outpost doctor --repair} rebuilds the database
 * keeping every unsent change; the next sync brings back the rows the service holds and sends the unsent changes, and
 * another device sees them.
 */
class DoctorIT extends WithService {
    private static Outpost device(String id) throws Exception {
        Outpost d = new Outpost(dir.resolve(id));
        service.initTrusting(d, id, service.url).ok();
        return d;
    }

    /** Overwrites the root page of the rows' table with garbage, as a failing flash cell might. */
    private static void corruptRowStates(Outpost d) throws Exception {
        Path db = d.home.resolve(DeviceHome.DB_FILE);
        long root;
        long pageSize;
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                ResultSet r = c.createStatement()
                        .executeQuery("select rootpage, (select page_size from pragma_page_size) from sqlite_schema"
                                + " where name = 'row_state'")) {
            assertTrue(r.next());
            root = r.getLong(1);
            pageSize = r.getLong(2);
        } // the last connection closed: every page is in the file, the write-ahead log gone
        assertFalse(Files.exists(d.home.resolve(DeviceHome.DB_FILE + "-wal")), "the database is checkpointed");
        byte[] garbage = new byte[(int) pageSize];
        Arrays.fill(garbage, (byte) 0x5a);
        try (FileChannel ch = FileChannel.open(db, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(garbage), (root - 1) * pageSize);
            ch.force(true);
        }
    }

    private static void assertOneLine(Outpost.Result r, int exit, String says) {
        assertEquals(exit, r.exit(), r.err());
        assertTrue(r.err().contains(says), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    }

    @Test
    void aCorruptPageIsFoundAndTheRepairKeepsEveryUnsentChange() throws Exception {
        Outpost field = device("doctor-field");
        Outpost office = device("doctor-office");
        for (int i = 0; i < 60; i++) {
            field.run("put", "farmer", "f" + i, "name=Farmer " + i, "village=Njoro")
                    .ok();
        }
        field.run("add", "crop_record", "c1", "bags_harvested", "3").ok();
        field.run("sync").ok();
        // Unsent: a new row, an increment, a tag and an edit of a synced row.
        field.run("put", "farmer", "u1", "name=Written offline").ok();
        field.run("add", "crop_record", "c1", "bags_harvested", "4").ok();
        field.run("tag", "crop_record", "c1", "pests", "+aphids").ok();
        field.run("put", "farmer", "f7", "name=Renamed offline").ok();
        long pending = TestJson.number(field.run("status", "--json").ok().out(), "pending");
        assertEquals(4, pending);
        assertEquals(0, field.run("doctor").exit(), "a whole database passes");

        corruptRowStates(field);
        assertOneLine(field.run("get", "farmer", "f1"), 5, "doctor --repair");
        assertOneLine(field.run("doctor"), 5, "the database is damaged");

        Outpost.Result repair = field.run("doctor", "--repair").ok();
        assertTrue(repair.out().contains("4 unsent changes kept"), repair.out());
        assertEquals(0, field.run("doctor").exit(), "whole after the repair");
        try (var kept = Files.list(field.home)) {
            assertEquals(
                    1,
                    kept.filter(p -> p.getFileName().toString().startsWith(DeviceHome.DB_FILE + ".damaged-"))
                            .count(),
                    "the damaged file is kept");
        }
        assertEquals(pending, TestJson.number(field.run("status", "--json").ok().out(), "pending"));
        // Unsent changes show at once, before any sync.
        assertEquals(
                "Written offline",
                TestJson.parse(field.run("get", "farmer", "u1").ok().out())
                        .get("name")
                        .asText());

        field.run("sync").ok();
        assertEquals(0, TestJson.number(field.run("status", "--json").ok().out(), "pending"));
        assertEquals(
                "Farmer 1",
                TestJson.parse(field.run("get", "farmer", "f1").ok().out())
                        .get("name")
                        .asText());
        assertEquals(
                "Renamed offline",
                TestJson.parse(field.run("get", "farmer", "f7").ok().out())
                        .get("name")
                        .asText());
        assertEquals(
                7, TestJson.number(field.run("get", "crop_record", "c1").ok().out(), "bags_harvested"));

        office.run("sync").ok();
        try (OutpostDevice lib = OutpostDevice.open(office.home)) {
            assertEquals(
                    61L,
                    ((Number) lib.rows()
                                    .query("select count(*) as n from farmer", List.of())
                                    .getFirst()
                                    .get("n"))
                            .longValue());
            assertEquals(
                    List.of(Map.of("name", "Renamed offline")),
                    lib.rows().query("select name from farmer where id = 'f7'", List.of()));
        }
        String c1 = office.run("get", "crop_record", "c1").ok().out();
        assertEquals(7, TestJson.number(c1, "bags_harvested"));
        assertEquals(List.of("aphids"), TestJson.texts(TestJson.parse(c1).get("pests")));
    }
}
