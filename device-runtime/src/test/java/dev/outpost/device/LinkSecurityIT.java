package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.http.LinkPolicy;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Links to the service with the real {@code outpost} and the real service serving TLS with a certificate from a CA made
 * here (the JDK's keytool): a device trusting that CA syncs, one trusting only the platform's store does not; a pinned
 * key that the chain holds passes and one it does not hold is refused; plain http beyond loopback is refused unless
 * asked for; a server that accepts a connection and never answers the handshake does not hold a sync.
 */
class LinkSecurityIT {
    @TempDir
    static Path dir;

    static Service service;
    static int tlsPort;
    static Path caPem;
    static String serverPin;

    private static void keytool(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "keytool " + args[0] + ": " + out);
    }

    @BeforeAll
    static void serviceWithItsOwnCa() throws Exception {
        Path ca = dir.resolve("ca.p12"), server = dir.resolve("server.p12");
        caPem = dir.resolve("ca.pem");
        String[] store = {"-storepass", "changeit", "-storetype", "PKCS12"};
        keytool(concat(
                new String[] {
                    "-genkeypair",
                    "-alias",
                    "ca",
                    "-keyalg",
                    "EC",
                    "-groupname",
                    "secp256r1",
                    "-dname",
                    "CN=Outpost Test CA",
                    "-ext",
                    "bc:c",
                    "-validity",
                    "2",
                    "-keystore",
                    ca.toString()
                },
                store));
        keytool(concat(
                new String[] {
                    "-exportcert", "-alias", "ca", "-rfc", "-file", caPem.toString(), "-keystore", ca.toString()
                },
                store));
        keytool(concat(
                new String[] {
                    "-genkeypair",
                    "-alias",
                    "server",
                    "-keyalg",
                    "EC",
                    "-groupname",
                    "secp256r1",
                    "-dname",
                    "CN=localhost",
                    "-validity",
                    "2",
                    "-keystore",
                    server.toString()
                },
                store));
        Path csr = dir.resolve("server.csr"), signed = dir.resolve("server.pem");
        keytool(concat(
                new String[] {"-certreq", "-alias", "server", "-file", csr.toString(), "-keystore", server.toString()},
                store));
        keytool(concat(
                new String[] {
                    "-gencert",
                    "-alias",
                    "ca",
                    "-infile",
                    csr.toString(),
                    "-outfile",
                    signed.toString(),
                    "-rfc",
                    "-ext",
                    "san=dns:localhost,ip:127.0.0.1",
                    "-validity",
                    "2",
                    "-keystore",
                    ca.toString()
                },
                store));
        keytool(concat(
                new String[] {
                    "-importcert",
                    "-noprompt",
                    "-alias",
                    "ca",
                    "-file",
                    caPem.toString(),
                    "-keystore",
                    server.toString()
                },
                store));
        keytool(concat(
                new String[] {
                    "-importcert", "-alias", "server", "-file", signed.toString(), "-keystore", server.toString()
                },
                store));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(server)) {
            ks.load(in, "changeit".toCharArray());
        }
        serverPin = LinkPolicy.pinOf(ks.getCertificate("server"));

        tlsPort = Service.freePort();
        service = Service.start(
                dir.resolve("service"),
                Service.freePort(),
                Map.of(
                        "QUARKUS_HTTP_SSL_PORT", Integer.toString(tlsPort),
                        "QUARKUS_TLS_KEY_STORE_P12_PATH", server.toString(),
                        "QUARKUS_TLS_KEY_STORE_P12_PASSWORD", "changeit"));
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @AfterAll
    static void stop() throws Exception {
        if (service != null) {
            service.close();
        }
    }

    private static Outpost device(String id, String server, String... options) throws Exception {
        Outpost o = new Outpost(dir.resolve(id));
        List<String> args = new ArrayList<>(List.of(
                "init",
                "--server",
                server,
                "--device-id",
                id,
                "--token",
                service.register(id, "nakuru"),
                "--scope",
                "nakuru"));
        args.addAll(List.of(options));
        o.run(args.toArray(String[]::new)).ok();
        return o;
    }

    @Test
    void aDeviceTrustsOnlyWhatItWasGiven() throws Exception {
        String https = "https://localhost:" + tlsPort;
        Outpost trusting = device("tls-ca", https, "--ca", caPem.toString());
        trusting.run("put", "farmer", "f1", "name=Wanjiru").ok();
        trusting.run("sync").ok();
        Outpost other = device("tls-other", https, "--ca", caPem.toString());
        other.run("sync").ok();
        assertEquals(
                "Wanjiru",
                TestJson.parse(other.run("get", "farmer", "f1").ok().out())
                        .get("name")
                        .asText());

        Outpost platformOnly = device("tls-platform", https);
        Outpost.Result untrusted = platformOnly.run("sync");
        assertEquals(3, untrusted.exit(), untrusted.err());
        assertTrue(untrusted.err().contains("SSLHandshakeException"), untrusted.err());

        Outpost pinned = device("tls-pinned", https, "--ca", caPem.toString(), "--pin", serverPin);
        pinned.run("sync").ok();
        String otherKey = "sha256/" + java.util.Base64.getEncoder().encodeToString(new byte[32]);
        Outpost mispinned = device("tls-mispinned", https, "--ca", caPem.toString(), "--pin", otherKey);
        Outpost.Result refused = mispinned.run("sync");
        assertEquals(3, refused.exit(), refused.err());
        assertTrue(refused.err().contains("pinned public keys"), refused.err());
        assertEquals(2, mispinned.run("get", "farmer", "f1").exit(), "nothing came over the refused link");

        Outpost.Result badPin = new Outpost(dir.resolve("tls-badpin"))
                .run(
                        "init",
                        "--server",
                        https,
                        "--device-id",
                        "x",
                        "--token",
                        "t",
                        "--scope",
                        "nakuru",
                        "--pin",
                        "abc");
        assertEquals(2, badPin.exit(), badPin.err());
    }

    @Test
    void plainHttpGoesNoFurtherThanLoopbackUnlessAskedFor() throws Exception {
        Outpost.Result refused = new Outpost(dir.resolve("far-http"))
                .run(
                        "init",
                        "--server",
                        "http://10.255.255.1:8080",
                        "--device-id",
                        "far",
                        "--token",
                        "t",
                        "--scope",
                        "nakuru");
        assertEquals(2, refused.exit(), refused.err());
        assertTrue(refused.err().contains("refusing plain http to 10.255.255.1"), refused.err());
        assertTrue(!Files.exists(dir.resolve("far-http").resolve("outpost.db")), "nothing set up");
        new Outpost(dir.resolve("far-http-insecure"))
                .run(
                        "init",
                        "--server",
                        "http://10.255.255.1:8080",
                        "--device-id",
                        "far",
                        "--token",
                        "t",
                        "--scope",
                        "nakuru",
                        "--insecure")
                .ok();
        device("near-http", service.url).run("sync").ok(); // loopback http stays allowed
    }

    @Test
    void aServerThatNeverAnswersTheHandshakeDoesNotHoldASync() throws Exception {
        try (ServerSocket silent = new ServerSocket(0)) {
            Thread accepting = Thread.ofVirtual().start(() -> {
                List<Socket> held = new ArrayList<>();
                try {
                    while (true) {
                        held.add(silent.accept()); // accepted, never answered
                    }
                } catch (java.io.IOException closed) {
                    // the test is over
                }
            });
            Outpost o = new Outpost(dir.resolve("silent"));
            o.run(
                            "init",
                            "--server",
                            "https://127.0.0.1:" + silent.getLocalPort(),
                            "--device-id",
                            "s",
                            "--token",
                            "t",
                            "--scope",
                            "nakuru")
                    .ok();
            o.run("put", "farmer", "f9", "name=Kept").ok();
            Outpost.Result r = o.run("sync");
            assertEquals(3, r.exit(), r.err());
            assertTrue(r.err().contains("handshake did not end within"), r.err());
            assertEquals(
                    "Kept",
                    TestJson.parse(o.run("get", "farmer", "f9").ok().out())
                            .get("name")
                            .asText());
            accepting.interrupt();
        }
    }
}
