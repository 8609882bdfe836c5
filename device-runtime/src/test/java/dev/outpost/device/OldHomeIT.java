package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.home.DeviceHome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import org.junit.jupiter.api.Test;

/**
 * A device home in the layout the first release wrote (src/test/fixtures/home-v1: YAML schema only, the change log
 * with AUTOINCREMENT and a status index, the clock saved by every write) opens with today's binary, keeps its pending
 * changes, takes new writes, and syncs all of them.
 */
class OldHomeIT extends WithService {
    private static final Path FIXTURE = Path.of("src/test/fixtures/home-v1");

    @Test
    void aHomeFromTheFirstReleaseKeepsItsPendingChangesAndSyncsThem() throws Exception {
        Path home = dir.resolve("old-home");
        Files.createDirectories(home);
        Files.copy(FIXTURE.resolve("outpost.db"), home.resolve(DeviceHome.DB_FILE));
        Files.copy(FIXTURE.resolve("schema.yaml"), home.resolve(DeviceHome.SCHEMA_FILE));
        // The same device, now pointed at this test's service with a credential it issued.
        Files.writeString(home.resolve(DeviceHome.CREDENTIAL_FILE), service.register("old-home", "nakuru"));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve(DeviceHome.DB_FILE));
                PreparedStatement ps = c.prepareStatement("update meta set value = ? where key = 'server'")) {
            ps.setString(1, service.url);
            ps.executeUpdate();
        }
        Outpost old = new Outpost(home);

        assertEquals(6, TestJson.number(old.run("status", "--json").ok().out(), "pending"));
        String farmer = old.run("get", "farmer", "f1").ok().out();
        assertTrue(farmer.contains("Njeri Wambui") && farmer.contains("Njoro"), farmer);
        old.run("put", "farmer", "f1", "village=Molo").ok();
        old.run("add", "crop_record", "c1", "bags_harvested", "2").ok();
        assertEquals(8, TestJson.number(old.run("status", "--json").ok().out(), "pending"));

        assertTrue(old.run("sync").ok().out().startsWith("pushed 8,"));
        assertEquals(0, TestJson.number(old.run("status", "--json").ok().out(), "pending"));
        assertFalse(Files.exists(home.resolve(DeviceHome.SCHEMA_JSON_FILE)), "an old home keeps its own files");

        // Everything it wrote, before and after the upgrade, reaches another device; the newer village wins.
        Outpost other = new Outpost(dir.resolve("other"));
        other.run(
                        "init",
                        "--server",
                        service.url,
                        "--device-id",
                        "other",
                        "--token",
                        service.register("other", "nakuru"))
                .ok();
        other.run("sync").ok();
        String seen = other.run("get", "farmer", "f1").ok().out();
        assertTrue(seen.contains("Njeri Wambui") && seen.contains("Molo"), seen);
        String crop = other.run("get", "crop_record", "c1").ok().out();
        assertEquals(5, TestJson.number(crop, "bags_harvested"), crop);
        assertEquals(
                java.util.List.of("aphids"), TestJson.texts(TestJson.parse(crop).get("pests")), crop);
        assertEquals(old.run("get", "crop_record", "c1").ok().out(), crop);
    }
}
