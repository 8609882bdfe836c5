package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;

import dev.outpost.model.change.FieldValue;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
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
        d.push(List.of(d.assign("farmer", UUID.randomUUID().toString(), "nakuru", "name", new FieldValue.Text("x"))));
        given().get("/q/metrics")
                .then()
                .statusCode(200)
                .body(containsString("outpost_sync_batches_total"))
                .body(containsString("outpost_sync_changes_applied_total"))
                .body(containsString("outpost_sync_bytes_in"));
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
