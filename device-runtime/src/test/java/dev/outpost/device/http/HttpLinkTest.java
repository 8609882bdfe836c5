package dev.outpost.device.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The device's HTTP/1.1 client against a scripted server on a real socket: framing, keep-alive, failures. */
class HttpLinkTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    /** What the scripted server sends for the n-th request (0-based), and whether it then closes the connection. */
    record Reply(String bytes, boolean thenClose) {}

    private ServerSocket server;
    private final List<String> requests = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger connections = new AtomicInteger();

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    private HttpLink start(Function<Integer, Reply> script) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        AtomicInteger served = new AtomicInteger();
        Thread.ofPlatform().daemon().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    connections.incrementAndGet();
                    Thread.ofPlatform().daemon().start(() -> serve(s, script, served));
                } catch (IOException e) {
                    return;
                }
            }
        });
        return new HttpLink(URI.create("http://127.0.0.1:" + server.getLocalPort() + "/base/"), TIMEOUT);
    }

    private void serve(Socket s, Function<Integer, Reply> script, AtomicInteger served) {
        try (s) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            while (true) {
                String head = readHead(in);
                if (head == null) {
                    return;
                }
                int length = 0;
                for (String line : head.split("\r\n")) {
                    if (line.toLowerCase().startsWith("content-length:")) {
                        length = Integer.parseInt(line.substring(15).strip());
                    }
                }
                String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
                requests.add(head + body);
                Reply reply = script.apply(served.getAndIncrement());
                out.write(reply.bytes().getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                if (reply.thenClose()) {
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        for (int b; (b = in.read()) >= 0; ) {
            head.write(b);
            String h = head.toString(StandardCharsets.ISO_8859_1);
            if (h.endsWith("\r\n\r\n")) {
                return h;
            }
        }
        return null;
    }

    private static Reply ok(String body) {
        return new Reply("HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body, false);
    }

    private static String get(HttpLink link, String path) throws IOException {
        try (HttpLink.Response r = link.exchange("GET", path, new String[0], null, TIMEOUT, true)) {
            return r.status() + " " + new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void requestsGoOutWithTheirHeadAndBodyAndShareOneKeptAliveConnection() throws IOException {
        HttpLink link = start(n -> ok("answer " + n));
        assertEquals("200 answer 0", get(link, "v1/a?x=1"));
        byte[] posted = "{\"k\":1}".getBytes(StandardCharsets.UTF_8);
        try (HttpLink.Response r =
                link.exchange("POST", "v1/b", new String[] {"Authorization", "Bearer t"}, posted, TIMEOUT, false)) {
            assertEquals("answer 1", new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
            assertEquals(8, r.contentLength());
        }
        assertEquals(1, connections.get());
        String port = String.valueOf(server.getLocalPort());
        assertTrue(requests.get(0).startsWith("GET /base/v1/a?x=1 HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n"));
        assertTrue(requests.get(1).startsWith("POST /base/v1/b HTTP/1.1\r\n"));
        assertTrue(requests.get(1).contains("Authorization: Bearer t\r\nContent-Length: 7\r\n\r\n{\"k\":1}"));
    }

    @Test
    void aChunkedBodyIsDecodedAndItsConnectionReused() throws IOException {
        HttpLink link = start(n -> n == 0
                ? new Reply(
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
                                + "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n",
                        false)
                : ok("next"));
        try (HttpLink.Response r = link.exchange("GET", "c", new String[0], null, TIMEOUT, true)) {
            assertEquals("hello world", new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
            assertEquals("1, 2", r.header("X-A"));
            assertEquals(-1, r.contentLength());
        }
        assertEquals("200 next", get(link, "d"));
        assertEquals(1, connections.get());
    }

    @Test
    void aBodyThatEndsBeforeItsLengthIsAnError() throws IOException {
        HttpLink link = start(n -> new Reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true));
        try (HttpLink.Response r = link.exchange("GET", "cut", new String[0], null, TIMEOUT, true)) {
            byte[] got = new byte[100];
            int n = r.body().read(got, 0, 100);
            assertEquals("only this", new String(got, 0, n, StandardCharsets.UTF_8));
            assertThrows(EOFException.class, () -> r.body().read(got, 0, 100));
        }
    }

    @Test
    void anIdleConnectionTheServerClosedIsRetriedOnlyForIdempotentRequests() throws IOException {
        // Every answer closes its connection without saying so: the pooled connection is dead at the next request.
        HttpLink link = start(n -> new Reply(ok("fresh " + n).bytes(), true));
        assertEquals("200 fresh 0", get(link, "a"));
        assertEquals("200 fresh 1", get(link, "b")); // failed on the pooled connection, sent again on a new one
        assertEquals(2, connections.get());
        assertThrows(IOException.class, () -> link.exchange("POST", "c", new String[0], new byte[1], TIMEOUT, false));
        assertEquals(2, requests.size(), "a non-idempotent request is never sent twice");
    }

    @Test
    void aRetryOpensANewConnectionRatherThanTakeAnotherIdleOne() throws IOException {
        // Two idle connections, both closed by the server (as after its restart): the retry must not try the second.
        HttpLink link = start(n -> new Reply(ok("r" + n).bytes(), true));
        try (HttpLink.Response a = link.exchange("GET", "a", new String[0], null, TIMEOUT, true);
                HttpLink.Response b = link.exchange("GET", "b", new String[0], null, TIMEOUT, true)) {
            a.body().readAllBytes();
            b.body().readAllBytes();
        }
        assertEquals(2, connections.get());
        assertEquals("200 r2", get(link, "c"));
        assertEquals(3, connections.get());
    }

    @Test
    void aBodyClosedBeforeItsEndClosesItsConnection() throws IOException {
        HttpLink link = start(n -> ok("0123456789"));
        try (HttpLink.Response r = link.exchange("GET", "a", new String[0], null, TIMEOUT, true)) {
            assertArrayEquals("0123".getBytes(StandardCharsets.UTF_8), r.body().readNBytes(4));
        }
        assertEquals("200 0123456789", get(link, "b"));
        assertEquals(2, connections.get());
    }

    @Test
    void malformedOrOversizedAnswersAreErrors() throws IOException {
        String huge = "X-Big: " + "x".repeat(HttpLink.HEAD_BYTES_MAX) + "\r\n";
        HttpLink link = start(n -> switch (n) {
            case 0 -> new Reply("SMTP ready\r\n\r\n", true);
            case 1 -> new Reply("HTTP/1.1 200 OK\r\n" + huge + "\r\n", true);
            case 2 -> new Reply("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", true);
            default -> new Reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true);
        });
        for (int i = 0; i < 4; i++) {
            IOException e = assertThrows(IOException.class, () -> {
                try (HttpLink.Response r = link.exchange("GET", "x", new String[0], null, TIMEOUT, false)) {
                    r.body().readAllBytes();
                }
            });
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "a message for answer " + i);
        }
    }

    @Test
    void aServerThatStaysSilentTimesOut() throws IOException {
        HttpLink link = start(n -> new Reply("", false));
        assertThrows(
                java.net.SocketTimeoutException.class,
                () -> link.exchange("GET", "slow", new String[0], null, Duration.ofMillis(200), true));
    }

    @Test
    void headerValuesAndPathsCannotSmuggleLines() throws IOException {
        HttpLink link = start(n -> ok(""));
        assertThrows(
                IllegalArgumentException.class,
                () -> link.exchange("GET", "a", new String[] {"X", "1\r\nEvil: 2"}, null, TIMEOUT, true));
        for (String path : new String[] {"a b", "a\r\nEvil: 2", "caf\u00e9"}) {
            assertThrows(
                    IllegalArgumentException.class,
                    () -> link.exchange("GET", path, new String[0], null, TIMEOUT, true));
        }
        assertEquals(0, requests.size());
    }

    /**
     * A server that starts its answer and then trickles it (one byte every 20 ms: 50 bytes/s) is dropped once the
     * policy's grace has passed, with the rate in the message; the same policy takes a whole answer sent at once.
     */
    @Test
    void anAnswerTrickledBelowTheMinimumRateIsDropped() throws Exception {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().start(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    String head = readHead(s.getInputStream());
                    OutputStream out = s.getOutputStream();
                    boolean trickle = head != null && head.startsWith("GET /base/slow");
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    for (int i = 0; i < 1000; i++) {
                        out.write('x');
                        if (trickle) {
                            out.flush();
                            Thread.sleep(20); // the fault under test: a server that trickles
                        }
                    }
                    out.flush();
                } catch (IOException | InterruptedException e) {
                    // the client gave up, or the test is over
                }
            }
        });
        LinkPolicy policy = new LinkPolicy(false, null, java.util.Set.of(), TIMEOUT, 1000, Duration.ofMillis(300));
        HttpLink link =
                new HttpLink(URI.create("http://127.0.0.1:" + server.getLocalPort() + "/base/"), TIMEOUT, policy);
        try (HttpLink.Response fast = link.exchange("GET", "fast", new String[0], null, TIMEOUT, true)) {
            assertEquals(1000, fast.body().readAllBytes().length);
        }
        IOException slow = assertThrows(IOException.class, () -> {
            try (HttpLink.Response r = link.exchange("GET", "slow", new String[0], null, TIMEOUT, true)) {
                r.body().readAllBytes();
            }
        });
        assertTrue(slow.getMessage().contains("slower than 1000 bytes/s"), slow.getMessage());
        link.close();
    }
}
