package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The credential is judged before the body is read: a request with a wrong credential that declares a large body and
 * sends only its first kilobyte is answered 401 at once (a service that read the body first would wait for bytes that
 * never come). Answers to authenticated requests are private to their client.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class CredentialFirstIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TestHTTPResource("/")
    URI base;

    /** Sends the head of {@code method path} declaring 4 MB of body, then 1 KB of it, and reads the answer's head. */
    private String unfinishedBody(String method, String path, String authorization) throws Exception {
        try (Socket s = new Socket(base.getHost(), base.getPort())) {
            s.setSoTimeout(20_000); // far above the answer's time; a service waiting for the body hits it
            OutputStream out = s.getOutputStream();
            out.write((method + " " + path + " HTTP/1.1\r\nHost: " + base.getHost() + ":" + base.getPort()
                            + "\r\nAuthorization: " + authorization + "\r\nContent-Type: application/json"
                            + "\r\nContent-Length: 4000000\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[1024]);
            out.flush();
            byte[] answer = new byte[8192];
            int n = s.getInputStream().read(answer);
            return new String(answer, 0, Math.max(n, 0), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aWrongCredentialIsRefusedBeforeTheBodyArrives() throws Exception {
        String sync = unfinishedBody("POST", "/v1/sync", "Bearer opd_not-a-device");
        assertTrue(sync.startsWith("HTTP/1.1 401"), sync);
        JsonNode problem = JSON.readTree(sync.substring(sync.indexOf("\r\n\r\n") + 4));
        assertEquals("unauthenticated", problem.get("code").asText(), sync);

        String report = unfinishedBody("POST", "/v1/device/model-reports", "Bearer opd_not-a-device");
        assertTrue(report.startsWith("HTTP/1.1 401"), report);

        String admin = unfinishedBody("POST", "/v1/admin/devices", "Bearer not-the-admin");
        assertTrue(admin.startsWith("HTTP/1.1 401"), admin);
    }

    @Test
    void authenticatedAnswersArePrivate() {
        TestDevice device = TestDevice.register("private", "nakuru");
        String cache = given().header("Authorization", "Bearer " + device.token)
                .get("/v1/device/assignments")
                .then()
                .statusCode(200)
                .extract()
                .header("Cache-Control");
        assertEquals("private, no-store", cache);
        String admin = given().header("Authorization", TestDevice.ADMIN)
                .get("/v1/admin/devices")
                .then()
                .statusCode(200)
                .extract()
                .header("Cache-Control");
        assertEquals("private, no-store", admin);
    }
}
