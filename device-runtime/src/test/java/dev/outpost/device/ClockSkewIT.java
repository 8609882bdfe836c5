package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.home.DeviceHome;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A device whose clock runs an hour ahead, through the real {@code outpost} file and the real service: the server
 * refuses its changes, the device re-stamps them from the server's time and pushes them again in the same sync,
 * and nothing anyone wrote is lost or changes value.
 */
class ClockSkewIT extends WithService {
    private static final long HOUR_MS = 3_600_000;
    private static final long SERVER_SKEW_MAX_MS = 5 * 60_000;

    private static Outpost device(String id) throws Exception {
        Outpost o = new Outpost(dir.resolve(id));
        o.run("init", "--server", service.url, "--device-id", id, "--token", service.register(id, "nakuru"))
                .ok();
        return o;
    }

    /**
     * Moves the device's clock: the offset the device adds to its wall clock, set in its own database as a wrong
     * system clock would show (the device corrects it from the server's time).
     */
    private static void setClockOffset(Outpost device, long offsetMs) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + device.home.resolve(DeviceHome.DB_FILE));
                PreparedStatement ps =
                        c.prepareStatement("insert or replace into meta (key, value) values ('clock_offset_ms', ?)")) {
            ps.setString(1, Long.toString(offsetMs));
            ps.executeUpdate();
        }
    }

    @Test
    void changesStampedAnHourAheadAreReStampedAndNothingIsLost() throws Exception {
        Outpost fast = device("officer-fast"), b = device("officer-b");
        b.run("put", "farmer", "f1", "name=Wanjiru", "village=Njoro", "phone=+254700000001")
                .ok();
        b.run("sync").ok();
        fast.run("sync").ok();

        // Offline, with a clock an hour ahead: the fast officer edits the farmer and records a harvest.
        setClockOffset(fast, HOUR_MS);
        fast.run("put", "farmer", "f1", "village=Molo", "phone=+254700000002").ok();
        fast.run("add", "crop_record", "c1", "bags_harvested", "5").ok();
        fast.run("tag", "crop_record", "c1", "pests", "+aphids").ok();
        String fastFarmerBefore = fast.run("get", "farmer", "f1").ok().out();
        String fastCropBefore = fast.run("get", "crop_record", "c1").ok().out();
        // Meanwhile officer B, with a correct clock, writes the same review field and syncs.
        b.run("put", "farmer", "f1", "phone=+254700000003").ok();
        b.run("add", "crop_record", "c1", "bags_harvested", "2").ok();
        b.run("sync").ok();

        Outpost.Result sync = fast.run("sync");
        assertEquals(0, sync.exit(), "the re-stamped changes are accepted in the same sync: " + sync);
        assertTrue(sync.out().contains("re-stamped 4 change(s)"), sync.out());
        String status = fast.run("status", "--json").ok().out();
        assertEquals(0, TestJson.number(status, "pending"), status);
        assertEquals(0, TestJson.parse(status).get("refused").size(), status);
        long offset = Long.parseLong(field(status, "clockOffsetMs"));
        assertTrue(offset <= 0 && offset > -60_000, "stamps come from the server's time now: " + status);

        // Nothing changed value on the device by the re-stamp, and both devices and the server agree.
        b.run("sync").ok();
        for (String[] row : List.of(new String[] {"farmer", "f1"}, new String[] {"crop_record", "c1"})) {
            assertEquals(
                    fast.run("get", row[0], row[1]).ok().out(),
                    b.run("get", row[0], row[1]).ok().out(),
                    row[0] + "/" + row[1]);
        }
        // Conflicts list each value's clock: the device's rows carry the new clocks, as the server's and B's do.
        assertEquals(b.run("conflicts").ok().out(), fast.run("conflicts").ok().out());
        String farmer = fast.run("get", "farmer", "f1").ok().out();
        String crop = fast.run("get", "crop_record", "c1").ok().out();
        assertEquals(fastFarmerBefore, farmer, "the fast officer's writes still win, as they did on the device");
        assertEquals("Molo", TestJson.parse(farmer).get("village").asText(), farmer);
        assertEquals(7, TestJson.number(crop, "bags_harvested"), crop);
        assertTrue(TestJson.texts(TestJson.parse(crop).get("pests")).contains("aphids"), crop);
        assertEquals(fastCropBefore.replace("\"bags_harvested\":5", "\"bags_harvested\":7"), crop);

        // The phone conflict keeps both values, and the fast device's value carries its re-stamped clock: no more
        // than the allowed skew ahead of the server, not an hour.
        String conflicts = service.admin("/v1/admin/conflicts");
        assertTrue(conflicts.contains("+254700000002") && conflicts.contains("+254700000003"), conflicts);
        Matcher m = Pattern.compile("\"clock\":\"(\\d+):\\d+:officer-fast\"").matcher(conflicts);
        assertTrue(m.find(), conflicts);
        long stamped = Long.parseLong(m.group(1));
        assertTrue(
                stamped <= System.currentTimeMillis() + SERVER_SKEW_MAX_MS + 1_000,
                "re-stamped at " + stamped + ", now " + System.currentTimeMillis());

        // The device keeps working: its next write is accepted as it is.
        fast.run("put", "farmer", "f1", "name=Wanjiru Kamau").ok();
        String again = fast.run("sync", "--json").ok().out();
        assertEquals(0, TestJson.number(again, "refused"), again);
        assertEquals(0, TestJson.number(again, "restamped"), again);
    }

    /** A top-level number field of a JSON object, as text. */
    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":(-?\\d+)").matcher(json);
        assertTrue(m.find(), name + " in " + json);
        return m.group(1);
    }
}
