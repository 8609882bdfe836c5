package dev.outpost.device;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An HTTP/1.1 proxy in front of the service that injects the faults of a bad field link into a seeded share of the
 * requests: {@link Fault#DROP} (the connection closed before the request goes anywhere), {@link Fault#DELAY} (held 0.1
 * to 1.5 s), {@link Fault#RESET} (delivered and answered, then the connection reset: the answer is lost),
 * {@link Fault#CUT} (the answer cut in the middle of its body) and {@link Fault#TWICE} (delivered twice at once, one
 * answer passed on: the service sees a duplicate racing the original). Requests are read whole (devices always send a
 * Content-Length) and forwarded over a fresh HTTP client; answers go back with their own Content-Length, compressed as
 * they came. Counts every fault by kind; requests it could not deliver because the service was down count as
 * {@code upstream-down}.
 */
final class ChaosProxy implements AutoCloseable {
    enum Fault {
        DROP,
        DELAY,
        RESET,
        CUT,
        TWICE
    }

    private static final Set<String> HOP_BY_HOP = Set.of(
            "connection", "content-length", "transfer-encoding", "keep-alive", "host", "expect", "upgrade", "te");

    private final ServerSocket server;
    private final int upstreamPort;
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2))
            .build();
    private final Random random;
    private volatile double faultShare;
    final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

    /** A proxy to {@code localhost:upstreamPort} injecting faults into {@code faultShare} of the requests. */
    ChaosProxy(int upstreamPort, long seed, double faultShare) throws IOException {
        this.server = new ServerSocket(0);
        this.upstreamPort = upstreamPort;
        this.random = new Random(seed);
        this.faultShare = faultShare;
        Thread.ofPlatform().daemon().name("chaos-proxy").start(this::accept);
    }

    String url() {
        return "http://localhost:" + server.getLocalPort();
    }

    /** From now on, injects faults into this share of the requests (0: a clean link). */
    void faultShare(double share) {
        this.faultShare = share;
    }

    long count(String kind) {
        AtomicLong n = counts.get(kind);
        return n == null ? 0 : n.get();
    }

    private void count(Object kind) {
        counts.computeIfAbsent(kind.toString().toLowerCase(Locale.ROOT), k -> new AtomicLong())
                .incrementAndGet();
    }

    private Fault pick() {
        synchronized (random) {
            if (random.nextDouble() >= faultShare) {
                return null;
            }
            return Fault.values()[random.nextInt(Fault.values().length)];
        }
    }

    private long delayMs() {
        synchronized (random) {
            return 100 + random.nextInt(1400);
        }
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Thread.ofVirtual().start(() -> serve(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private record Request(String method, String target, List<String[]> headers, byte[] body) {}

    private record Answer(int status, List<String[]> headers, byte[] body) {}

    /** One client connection: requests one after another (keep-alive), until the client closes or a fault does. */
    private void serve(Socket client) {
        try (client) {
            InputStream in = new BufferedInputStream(client.getInputStream());
            OutputStream out = client.getOutputStream();
            while (true) {
                Request r = read(in);
                if (r == null) {
                    return;
                }
                Fault fault = pick();
                if (fault == Fault.DROP) {
                    count(fault);
                    return;
                }
                if (fault == Fault.DELAY) {
                    count(fault);
                    Thread.sleep(delayMs());
                }
                Answer a;
                try {
                    if (fault == Fault.TWICE) {
                        CompletableFuture<Answer> first = CompletableFuture.supplyAsync(() -> forward(r));
                        CompletableFuture<Answer> second = CompletableFuture.supplyAsync(() -> forward(r));
                        a = first.join();
                        second.exceptionally(e -> null).join();
                        count(fault);
                    } else {
                        a = forward(r);
                    }
                } catch (RuntimeException down) {
                    count("upstream-down");
                    return;
                }
                byte[] head = head(a);
                if (fault == Fault.RESET) {
                    count(fault);
                    client.setSoLinger(true, 0); // close() sends RST
                    return;
                }
                out.write(head);
                if (fault == Fault.CUT && a.body().length > 1) {
                    count(fault);
                    out.write(a.body(), 0, a.body().length / 2);
                    out.flush();
                    return;
                }
                out.write(a.body());
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // the client went away
        }
    }

    private Answer forward(Request r) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + upstreamPort + r.target()))
                .timeout(Duration.ofSeconds(60))
                .method(
                        r.method(),
                        r.body().length == 0
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofByteArray(r.body()));
        for (String[] h : r.headers()) {
            if (!HOP_BY_HOP.contains(h[0].toLowerCase(Locale.ROOT))) {
                b.header(h[0], h[1]);
            }
        }
        try {
            HttpResponse<byte[]> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            List<String[]> headers = new ArrayList<>();
            resp.headers().map().forEach((name, values) -> {
                if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT)) && !name.startsWith(":")) {
                    for (String v : values) {
                        headers.add(new String[] {name, v});
                    }
                }
            });
            return new Answer(resp.statusCode(), headers, resp.body());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static byte[] head(Answer a) {
        StringBuilder s = new StringBuilder("HTTP/1.1 ").append(a.status()).append(" -\r\n");
        for (String[] h : a.headers()) {
            s.append(h[0]).append(": ").append(h[1]).append("\r\n");
        }
        s.append("Content-Length: ").append(a.body().length).append("\r\n\r\n");
        return s.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /** One request, or null at the end of the connection. */
    private static Request read(InputStream in) throws IOException {
        String line = line(in);
        if (line == null || line.isEmpty()) {
            return null;
        }
        String[] start = line.split(" ", 3);
        List<String[]> headers = new ArrayList<>();
        int length = 0;
        for (String h; (h = line(in)) != null && !h.isEmpty(); ) {
            int colon = h.indexOf(':');
            String name = h.substring(0, colon).trim();
            String value = h.substring(colon + 1).trim();
            headers.add(new String[] {name, value});
            if (name.equalsIgnoreCase("content-length")) {
                length = Integer.parseInt(value);
            }
        }
        byte[] body = in.readNBytes(length);
        if (body.length < length) {
            return null;
        }
        return new Request(start[0], start[1], headers, body);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) >= 0; ) {
            if (c == '\n') {
                byte[] bytes = b.toByteArray();
                int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
            }
            b.write(c);
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
