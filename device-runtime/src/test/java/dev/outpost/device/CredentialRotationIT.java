package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;

/**
 * A tablet changes its own credential with the real binary and service: {@code outpost rotate-token} replaces the
 * credential file whole (0600), sync goes on with the new token, the token before the last is dead, and a revoked
 * device can neither rotate nor sync (exit 4).
 */
class CredentialRotationIT extends WithService {
    private static int checkIn(String token) throws Exception {
        return HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(service.url + "/v1/device/assignments"))
                                .header("Authorization", "Bearer " + token)
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    @Test
    void aTabletRotatesItsCredentialAndARevokedOneCannot() throws Exception {
        Outpost tablet = new Outpost(dir.resolve("rotating"));
        tablet.run(
                        "init",
                        "--server",
                        service.url,
                        "--device-id",
                        "rotating",
                        "--token",
                        service.register("rotating", "nakuru"))
                .ok();
        Path credential = tablet.home.resolve("credential");
        String t0 = Files.readString(credential).trim();
        tablet.run("put", "farmer", "f1", "name=Before").ok();
        tablet.run("sync").ok();

        assertTrue(tablet.run("rotate-token").ok().out().contains("credential rotated"));
        String t1 = Files.readString(credential).trim();
        assertNotEquals(t0, t1);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(credential)));
        tablet.run("put", "farmer", "f1", "name=After").ok();
        tablet.run("sync").ok();
        tablet.run("rotate-token").ok();
        assertEquals(401, checkIn(t0), "the token before the last is dead");
        tablet.run("sync").ok();

        Outpost office = new Outpost(dir.resolve("rotation-office"));
        office.run(
                        "init",
                        "--server",
                        service.url,
                        "--device-id",
                        "rotation-office",
                        "--token",
                        service.register("rotation-office", "nakuru"))
                .ok();
        office.run("sync").ok();
        assertEquals(
                "After",
                TestJson.parse(office.run("get", "farmer", "f1").ok().out())
                        .get("name")
                        .asText());

        HttpResponse<String> revoked = service.admin("DELETE", "/v1/admin/devices/rotating", "");
        assertEquals(200, revoked.statusCode(), revoked.body());
        Outpost.Result refused = tablet.run("rotate-token");
        assertEquals(4, refused.exit(), refused.err());
        assertTrue(refused.err().contains("revoked"), refused.err());
        assertEquals(4, tablet.run("sync").exit());
    }
}
