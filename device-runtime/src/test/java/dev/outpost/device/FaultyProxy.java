package dev.outpost.device;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy in front of the service that cuts the connection every {@code cutEveryBytes} of answer bytes, in the
 * middle of whatever body is flowing: a flaky field link, reproducibly. Counts the cuts and the Range requests the
 * client sent afterwards; optionally rewrites requests, as a tampering link would.
 */
final class FaultyProxy implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress upstream;
    private volatile long cutEveryBytes;
    private final AtomicLong sinceCut = new AtomicLong();
    final AtomicInteger cuts = new AtomicInteger();
    final AtomicInteger rangeRequests = new AtomicInteger();
    private volatile String rewriteFrom;
    private volatile String rewriteTo;

    FaultyProxy(int upstreamPort, long cutEveryBytes) throws IOException {
        this.server = new ServerSocket(0);
        this.upstream = new InetSocketAddress("localhost", upstreamPort);
        this.cutEveryBytes = cutEveryBytes;
        Thread.ofPlatform().daemon().start(this::accept);
    }

    /** Rewrites requests on their way: {@code from} becomes {@code to} (same length), as a tampering link would. */
    FaultyProxy rewrite(String from, String to) {
        if (from.length() != to.length()) {
            throw new IllegalArgumentException("a rewrite keeps the length");
        }
        this.rewriteFrom = from;
        this.rewriteTo = to;
        return this;
    }

    /** From now on, cuts every {@code bytes} of answers ({@code Long.MAX_VALUE}: a link that never drops). */
    FaultyProxy cutEvery(long bytes) {
        this.cutEveryBytes = bytes;
        return this;
    }

    String url() {
        return "http://localhost:" + server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket up = new Socket(upstream.getHostName(), upstream.getPort());
                Thread.ofPlatform().daemon().start(() -> pump(client, up, false));
                Thread.ofPlatform().daemon().start(() -> pump(up, client, true));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pump(Socket from, Socket to, boolean answers) {
        byte[] buf = new byte[8192];
        try (InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream()) {
            for (int n; (n = in.read(buf)) > 0; ) {
                if (!answers) {
                    String text = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
                    if (text.contains("\r\nRange: bytes=") || text.contains("\r\nrange: bytes=")) {
                        rangeRequests.incrementAndGet();
                    }
                    if (rewriteFrom != null && text.contains(rewriteFrom)) {
                        byte[] changed = text.replace(rewriteFrom, rewriteTo).getBytes(StandardCharsets.ISO_8859_1);
                        System.arraycopy(changed, 0, buf, 0, n);
                    }
                    out.write(buf, 0, n);
                    continue;
                }
                long total = sinceCut.addAndGet(n);
                if (total >= cutEveryBytes) {
                    // Pass part of this read, then drop the link in the middle of the answer.
                    out.write(buf, 0, Math.max(1, n / 2));
                    out.flush();
                    sinceCut.set(0);
                    cuts.incrementAndGet();
                    from.close();
                    to.close();
                    return;
                }
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            // one side went away: close the other
        } finally {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // already closed
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
