package dev.outpost.device.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import java.net.URI;
import org.junit.jupiter.api.Test;

/** Which servers plain http may reach, and what a pin must look like. */
class LinkPolicyTest {
    private static void refused(LinkPolicy p, String url) {
        DeviceException e = assertThrows(DeviceException.class, () -> p.checkServer(URI.create(url)));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
    }

    @Test
    void plainHttpReachesOnlyLoopbackLiteralsUnlessAllowed() {
        LinkPolicy strict = LinkPolicy.DEFAULT;
        strict.checkServer(URI.create("http://localhost:8080"));
        strict.checkServer(URI.create("http://127.0.0.1:8080"));
        strict.checkServer(URI.create("http://127.10.20.30:8080"));
        strict.checkServer(URI.create("http://[::1]:8080"));
        strict.checkServer(URI.create("https://sync.example.org"));
        refused(strict, "http://sync.example.org:8080");
        refused(strict, "http://10.0.0.5:8080");
        refused(strict, "http://127.attacker.example:8080"); // a name, not the loopback address
        refused(strict, "http://localhost.attacker.example:8080");
        LinkPolicy.of(true, null, "").checkServer(URI.create("http://sync.example.org:8080"));
    }

    @Test
    void aPinIsSha256AndTheBase64OfThirtyTwoBytes() {
        String good = "sha256/" + java.util.Base64.getEncoder().encodeToString(new byte[32]);
        assertEquals(
                java.util.Set.of(good), LinkPolicy.of(false, null, good + ", ").pins());
        assertThrows(DeviceException.class, () -> LinkPolicy.checkPin("sha1/abc"));
        assertThrows(DeviceException.class, () -> LinkPolicy.checkPin("sha256/not-base64!"));
        assertThrows(
                DeviceException.class,
                () -> LinkPolicy.checkPin(
                        "sha256/" + java.util.Base64.getEncoder().encodeToString(new byte[20])));
    }
}
