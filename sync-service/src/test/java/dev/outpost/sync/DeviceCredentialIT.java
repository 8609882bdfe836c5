package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Device credentials over their life: a device rotates its own token (the replaced one lives on for a grace, the one
 * before it is dead), a token with a lifetime is refused once it is over, and an admin gives a revoked device id a new
 * credential only after revoking it.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class DeviceCredentialIT {
    @Inject
    Pool pool;

    private static int checkIn(String token) {
        return given().header("Authorization", "Bearer " + token)
                .get("/v1/device/assignments")
                .statusCode();
    }

    private static JsonPath register(String id, Integer lifetimeDays) {
        return given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("{\"deviceId\": \"" + id + "\", \"scopes\": [\"nakuru\"]"
                        + (lifetimeDays == null ? "" : ", \"lifetimeDays\": " + lifetimeDays) + "}")
                .post("/v1/admin/devices")
                .then()
                .statusCode(201)
                .extract()
                .jsonPath();
    }

    private static JsonPath rotate(String token, int status) {
        return given().header("Authorization", "Bearer " + token)
                .post("/v1/device/token")
                .then()
                .statusCode(status)
                .extract()
                .jsonPath();
    }

    @Test
    void aDeviceRotatesItsTokenAndTheOneBeforeTheLastDies() {
        String id = "rotating-" + UUID.randomUUID().toString().substring(0, 8);
        String t0 = register(id, null).getString("token");
        JsonPath first = rotate(t0, 200);
        String t1 = first.getString("token");
        assertEquals(id, first.getString("deviceId"));
        assertNotEquals(t0, t1);
        assertNull(first.get("expiresAt"), "no lifetime, none after rotation");
        assertEquals(200, checkIn(t1));
        assertEquals(200, checkIn(t0), "the replaced token lives on for the grace (a lost answer is asked again)");
        String t2 = rotate(t1, 200).getString("token");
        assertEquals(200, checkIn(t2));
        assertEquals(401, checkIn(t0), "the token before the replaced one is dead");
    }

    @Test
    void aTokenWithALifetimeIsRefusedOnceItIsOver() {
        String id = "mortal-" + UUID.randomUUID().toString().substring(0, 8);
        JsonPath registered = register(id, 30);
        OffsetDateTime expires = OffsetDateTime.parse(registered.getString("expiresAt"));
        assertTrue(expires.isAfter(OffsetDateTime.now().plusDays(29)), expires.toString());
        String token = registered.getString("token");
        assertEquals(200, checkIn(token));
        JsonPath rotated = rotate(token, 200);
        assertTrue(OffsetDateTime.parse(rotated.getString("expiresAt")).isAfter(expires.minusSeconds(1)));
        String current = rotated.getString("token");

        // Thirty days later (moved in the database: no test waits a month).
        pool.preparedQuery("update device set token_expires_at = now() - interval '1 second' where id = $1")
                .execute(Tuple.of(id))
                .await()
                .indefinitely();
        given().header("Authorization", "Bearer " + current)
                .get("/v1/device/assignments")
                .then()
                .statusCode(401)
                .body("code", org.hamcrest.Matchers.equalTo("unauthenticated"))
                .body("detail", org.hamcrest.Matchers.containsString("expired"));
        rotate(current, 401); // an expired token cannot rotate itself either
    }

    @Test
    void anAdminGivesARevokedDeviceIdANewCredentialOnlyAfterRevokingIt() {
        String id = "found-again-" + UUID.randomUUID().toString().substring(0, 8);
        String old = register(id, null).getString("token");
        given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .post("/v1/admin/devices/" + id + "/reregister")
                .then()
                .statusCode(409)
                .body("code", org.hamcrest.Matchers.equalTo("already-exists"));
        given().header("Authorization", TestDevice.ADMIN)
                .delete("/v1/admin/devices/" + id)
                .then()
                .statusCode(200);
        assertEquals(401, checkIn(old));
        JsonPath again = given().header("Authorization", TestDevice.ADMIN)
                .contentType("application/json")
                .body("{\"lifetimeDays\": 7}")
                .post("/v1/admin/devices/" + id + "/reregister")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
        String fresh = again.getString("token");
        assertNotNull(again.getString("expiresAt"));
        assertEquals(200, checkIn(fresh));
        assertEquals(401, checkIn(old), "the revoked token stays dead");
        JsonPath listed = given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/devices")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
        assertNotNull(listed.get("find { it.deviceId == '" + id + "' }.reregisteredAt"));
        assertNull(listed.get("find { it.deviceId == '" + id + "' }.revokedAt"));
    }
}
