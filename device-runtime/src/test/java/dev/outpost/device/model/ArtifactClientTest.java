package dev.outpost.device.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloads over a link that drops every answer part-way (a real socket, a scripted server): into memory and into a
 * file, each resumed with Range from the byte it stopped at, never started over.
 */
class ArtifactClientTest {
    private static final byte[] DOCUMENT = new byte[300_000];
    private static final int CUT_AFTER = 70_000;

    static {
        new Random(5).nextBytes(DOCUMENT);
    }

    @TempDir
    Path dir;

    private HttpServer server;
    private final List<String> ranges = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        server.createContext("/v1/doc", this::cutShort);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    /** Declares the rest of the document from the asked-for byte, sends at most CUT_AFTER bytes of it, and drops. */
    private void cutShort(HttpExchange x) throws IOException {
        String range = x.getRequestHeaders().getFirst("Range");
        ranges.add(range == null ? "-" : range);
        int from = range == null ? 0 : Integer.parseInt(range.substring("bytes=".length(), range.length() - 1));
        int rest = DOCUMENT.length - from;
        if (range != null) {
            x.getResponseHeaders()
                    .add("Content-Range", "bytes " + from + "-" + (DOCUMENT.length - 1) + "/" + DOCUMENT.length);
        }
        x.sendResponseHeaders(range == null ? 200 : 206, rest);
        OutputStream out = x.getResponseBody();
        out.write(DOCUMENT, from, Math.min(rest, CUT_AFTER));
        out.flush();
        x.close(); // short of what was declared: the server drops the connection
    }

    private ArtifactClient client() {
        return new ArtifactClient("http://127.0.0.1:" + server.getAddress().getPort(), "token");
    }

    @Test
    void aCutBodyIsResumedIntoMemoryFromWhereItStopped() {
        ArtifactClient client = client();

        assertArrayEquals(DOCUMENT, client.fetch("v1/doc", 1 << 20));

        assertEquals(List.of("-", "bytes=70000-", "bytes=140000-", "bytes=210000-", "bytes=280000-"), ranges);
        assertEquals(DOCUMENT.length, client.bytesDownloaded(), "nothing downloaded twice");
    }

    @Test
    void aCutBodyIsResumedIntoAFileFromWhereItStopped() throws IOException {
        ArtifactClient client = client();
        Path file = Files.write(dir.resolve("manifest.fetched"), new byte[1_000_000]); // longer: truncated

        client.fetchTo("v1/doc", 1 << 20, file);

        assertArrayEquals(DOCUMENT, Files.readAllBytes(file));
        assertEquals(List.of("-", "bytes=70000-", "bytes=140000-", "bytes=210000-", "bytes=280000-"), ranges);
        assertEquals(DOCUMENT.length, client.bytesDownloaded(), "nothing downloaded twice");
    }

    @Test
    void aDocumentLargerThanAllowedIsRefusedBeforeItIsRead() {
        DeviceException e =
                assertThrows(DeviceException.class, () -> client().fetchTo("v1/doc", 100_000, dir.resolve("m")));
        assertEquals(ExitCode.REFUSED, e.exitCode());
        assertTrue(e.getMessage().contains("larger than"), e.getMessage());
    }
}
