package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device's home and local API are its owner's only, with the real {@code outpost} binary: the home is 0700 and its
 * files 0600 (and an old home's wider modes are taken back on open); {@code outpost run}'s API refuses a request
 * without the home's token, with a wrong one, with another name in {@code Host} (DNS rebinding), from a web page's
 * {@code Origin}, and a POST or PUT whose body is not declared JSON (what a cross-site form sends); a refused write
 * changes nothing.
 */
class LocalApiSecurityIT {
    @TempDir
    Path dir;

    /** One HTTP/1.1 exchange written by hand, so that any header (Host included) is what the test says. */
    private record Answer(int status, String headers, String body) {}

    private static Answer raw(int port, String method, String path, String... headers) throws Exception {
        return withBody(port, method, path, null, headers);
    }

    private static Answer withBody(int port, String method, String path, String body, String... headers)
            throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            StringBuilder req = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
            for (String h : headers) {
                req.append(h).append("\r\n");
            }
            byte[] payload = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
            if (body != null) {
                req.append("Content-Length: ").append(payload.length).append("\r\n");
            }
            req.append("Connection: close\r\n\r\n");
            OutputStream out = s.getOutputStream();
            out.write(req.toString().getBytes(StandardCharsets.UTF_8));
            out.write(payload);
            out.flush();
            String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int split = all.indexOf("\r\n\r\n");
            String head = all.substring(0, split);
            return new Answer(Integer.parseInt(head.split(" ")[1]), head, all.substring(split + 4));
        }
    }

    private static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void theHomeAndTheLocalApiAreTheOwnersOnly() throws Exception {
        Outpost device = new Outpost(dir.resolve("tablet"));
        device.run(
                        "init",
                        "--server",
                        "http://127.0.0.1:9",
                        "--device-id",
                        "t1",
                        "--token",
                        "opd_t",
                        "--scope",
                        "nakuru")
                .ok();
        device.run("put", "farmer", "f1", "name=Achieng").ok();
        assertEquals("rwx------", mode(device.home));
        for (String f : new String[] {"outpost.db", "credential", "schema.yaml", "schema.json"}) {
            assertEquals("rw-------", mode(device.home.resolve(f)), f);
        }

        try (Outpost.Running run = device.startRun()) {
            int port = run.port();
            String token = Files.readString(device.home.resolve("api-token")).trim();
            assertEquals("rw-------", mode(device.home.resolve("api-token")));
            assertEquals("rw-------", mode(device.home.resolve("outpost.db-wal")), "SQLite's WAL takes the db's mode");
            String host = "Host: 127.0.0.1:" + port;
            String auth = "Authorization: Bearer " + token;
            String json = "Content-Type: application/json";

            Answer ok = raw(port, "GET", "/v1/rows/farmer/f1", host, auth);
            assertEquals(200, ok.status(), ok.body());
            assertEquals("Achieng", TestJson.parse(ok.body()).get("name").asText());

            Answer none = raw(port, "GET", "/v1/rows/farmer/f1", host);
            assertEquals(401, none.status(), none.body());
            assertTrue(
                    none.headers().toLowerCase(java.util.Locale.ROOT).contains("www-authenticate: bearer"),
                    none.headers());
            assertEquals(2, TestJson.number(none.body(), "exitCode"));
            Answer wrong = raw(port, "GET", "/v1/rows/farmer/f1", host, "Authorization: Bearer opa_guess");
            assertEquals(401, wrong.status(), wrong.body());

            // DNS rebinding: a page on attacker.example resolved to 127.0.0.1 sends its own name as Host.
            Answer rebound = raw(port, "GET", "/v1/rows/farmer/f1", "Host: attacker.example:" + port, auth);
            assertEquals(403, rebound.status(), rebound.body());
            assertTrue(TestJson.parse(rebound.body()).get("error").asText().contains("attacker.example"));
            Answer page = raw(port, "GET", "/v1/status", host, auth, "Origin: https://attacker.example");
            assertEquals(403, page.status(), page.body());
            Answer localPage = raw(port, "GET", "/v1/status", host, auth, "Origin: http://localhost:" + port);
            assertEquals(200, localPage.status(), localPage.body());

            // A cross-site form posts text/plain: refused before anything is read or written.
            Answer form = withBody(
                    port,
                    "PUT",
                    "/v1/rows/farmer/f2",
                    "{\"name\": \"Forged\"}",
                    host,
                    auth,
                    "Content-Type: text/plain");
            assertEquals(415, form.status(), form.body());
            Answer bare = raw(port, "POST", "/v1/sync", host, auth);
            assertEquals(415, bare.status(), bare.body());
            Answer put = withBody(port, "PUT", "/v1/rows/farmer/f3", "{\"name\": \"Baraka\"}", host, auth, json);
            assertEquals(200, put.status(), put.body());
        }
        assertEquals(2, device.run("get", "farmer", "f2").exit(), "the refused write changed nothing");
        assertEquals(
                "Baraka",
                TestJson.parse(device.run("get", "farmer", "f3").ok().out())
                        .get("name")
                        .asText());

        // A home from before (created world-readable) is taken back on its next open.
        Files.setPosixFilePermissions(device.home, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(device.home.resolve("outpost.db"), PosixFilePermissions.fromString("rw-r--r--"));
        device.run("status").ok();
        assertEquals("rwx------", mode(device.home));
        assertEquals("rw-------", mode(device.home.resolve("outpost.db")));
    }
}
