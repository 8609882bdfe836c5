package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.FieldValue;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Health, metrics, OpenAPI and request ids: what operators and load balancers rely on. */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class OperationsIT {
    @Test
    void livenessAndReadinessIncludingPostgresAreUp() {
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/health/ready")
                .then()
                .statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", org.hamcrest.Matchers.hasItem(containsString("Reactive PostgreSQL")));
    }

    @Test
    void syncMetricsAreExportedForPrometheus() {
        TestDevice d = TestDevice.register("metrics", "nakuru");
        String before =
                given().get("/q/metrics").then().statusCode(200).extract().asString();
        d.push(List.of(
                d.assign("farmer", UUID.randomUUID().toString(), "nakuru", "name", new FieldValue.Text("x")),
                d.assign("farmer", UUID.randomUUID().toString(), "nakuru", "name", new FieldValue.Text("y"))));
        String after =
                given().get("/q/metrics").then().statusCode(200).extract().asString();
        // Other tests may sync at the same time: each counter moved by at least this push's share.
        assertTrue(metric(after, "outpost_sync_batches_total") - metric(before, "outpost_sync_batches_total") >= 1);
        assertTrue(metric(after, "outpost_sync_changes_applied_total")
                        - metric(before, "outpost_sync_changes_applied_total")
                >= 2);
        assertTrue(
                metric(after, "outpost_sync_bytes_in_bytes_sum") > metric(before, "outpost_sync_bytes_in_bytes_sum")
                        || metric(after, "outpost_sync_bytes_in_sum") > metric(before, "outpost_sync_bytes_in_sum"),
                "bytes in grew");
    }

    @Inject
    dev.outpost.sync.sync.SyncLagMetrics lag;

    @Test
    void eachDevicesSyncLagIsAMetric() {
        TestDevice synced = TestDevice.register("lag-synced", "nakuru");
        TestDevice never = TestDevice.register("lag-never", "nakuru");
        synced.push(List.of(
                synced.assign("farmer", UUID.randomUUID().toString(), "nakuru", "name", new FieldValue.Text("x"))));
        lag.refresh().await().indefinitely();
        String scrape =
                given().get("/q/metrics").then().statusCode(200).extract().asString();
        double syncedLag = metric(scrape, "outpost_device_sync_lag_seconds{device=\"" + synced.id + "\"}");
        assertTrue(syncedLag >= 0 && syncedLag < 60, "just synced: " + syncedLag);
        assertTrue(
                scrape.contains("outpost_device_sync_lag_seconds{device=\"" + never.id + "\"}"),
                "a device that never synced has a lag too (since its registration)");
        assertTrue(metric(scrape, "outpost_devices_active") >= 2);
        assertTrue(metric(scrape, "outpost_devices_sync_lag_max_seconds") >= syncedLag);
    }

    /** The sum of a metric's samples (every label set) in Prometheus text; 0 when it has none. */
    private static double metric(String exposition, String name) {
        double sum = 0;
        for (String line : exposition.split("\n")) {
            if (line.startsWith(name + " ")
                    || line.startsWith(name + "{")
                    || name.endsWith("}") && line.startsWith(name)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    @Test
    void aDeviceLearnsItsIdAndScopesFromItsCredential() {
        TestDevice d = TestDevice.register("whoami", "nakuru", "kericho");
        given().header("Authorization", "Bearer " + d.token)
                .get("/v1/device")
                .then()
                .statusCode(200)
                .body("deviceId", equalTo(d.id))
                .body("scopes", org.hamcrest.Matchers.contains("nakuru", "kericho"));
        given().get("/v1/device").then().statusCode(401).body("code", equalTo("unauthenticated"));
    }

    @Test
    void openApiDescribesTheSyncEndpoint() {
        given().get("/q/openapi?format=json").then().statusCode(200).body("paths.'/v1/sync'.post", notNullValue());
    }

    @Test
    void everyAnswerCarriesARequestIdAndASaneOneIsKept() {
        given().header("X-Request-Id", "field-test-42")
                .get("/v1/admin/devices")
                .then()
                .statusCode(401)
                .header("X-Request-Id", "field-test-42")
                .body("requestId", equalTo("field-test-42"));
    }
}
