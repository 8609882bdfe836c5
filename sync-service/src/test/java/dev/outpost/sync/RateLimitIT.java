package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import java.util.Map;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Rate limits with small allowances: a device past its allowance gets 429 {@code rate-limited} with Retry-After while
 * another device goes on; an address that keeps presenting wrong credentials is braked, also for a right one.
 */
@QuarkusTest
@TestProfile(RateLimitIT.SmallLimits.class)
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RateLimitIT {
    public static class SmallLimits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "outpost.limits.enabled", "true",
                    "outpost.limits.device-per-minute", "5",
                    "outpost.limits.address-per-minute", "1000",
                    "outpost.limits.auth-failures-per-minute", "4");
        }
    }

    private static Response checkIn(String token) {
        return given().header("Authorization", "Bearer " + token).get("/v1/device/assignments");
    }

    @Test
    @Order(1)
    void aDevicePastItsAllowanceWaitsAndOthersDoNot() {
        TestDevice busy = TestDevice.register("busy", "nakuru");
        TestDevice calm = TestDevice.register("calm", "nakuru");
        for (int i = 0; i < 5; i++) {
            assertEquals(200, checkIn(busy.token).statusCode(), "within the allowance");
        }
        Response limited = checkIn(busy.token);
        assertEquals(429, limited.statusCode(), limited.asString());
        assertEquals("rate-limited", limited.jsonPath().getString("code"));
        assertTrue(limited.contentType().startsWith("application/problem+json"), limited.contentType());
        long retryAfter = Long.parseLong(limited.header("Retry-After"));
        assertTrue(retryAfter >= 1 && retryAfter <= 60, "Retry-After " + retryAfter);
        assertEquals(retryAfter, limited.jsonPath().getLong("retryAfterSeconds"));
        assertEquals(200, checkIn(calm.token).statusCode(), "another device is not held up");
    }

    @Test
    @Order(2) // last: it leaves this address braked for the rest of the minute
    void wrongCredentialsFromAnAddressAreBraked() {
        TestDevice good = TestDevice.register("good", "nakuru");
        for (int i = 0; i < 4; i++) {
            assertEquals(401, checkIn("opd_guess-" + i).statusCode());
        }
        Response braked = checkIn("opd_guess-5");
        assertEquals(429, braked.statusCode(), braked.asString());
        assertEquals("rate-limited", braked.jsonPath().getString("code"));
        assertEquals(429, checkIn(good.token).statusCode(), "the address waits, whatever it presents");
        assertEquals(200, given().get("/q/health/live").statusCode(), "requests without a credential still pass");
    }
}
