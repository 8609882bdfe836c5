package dev.outpost.device.http;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * The device's HTTP/1.1 client: blocking requests over a small pool of keep-alive connections to one server.
 *
 * <p>Why not {@code java.net.http.HttpClient}: a device pays for every class and thread it holds. The JDK client
 * loads about 250 classes of its own, starts a selector thread and an executor, and builds the default TLS context
 * (every certificate of the trust store parsed onto the heap) when it is constructed, even for a plain {@code http}
 * server. This class is a few hundred lines over {@link Socket}; TLS is loaded on the first {@code https} request.
 *
 * <p>Contract:
 *
 * <ul>
 *   <li>{@link #exchange} sends one request and answers the status, the headers and the body as a stream. Closing a
 *       fully read body returns its connection to the pool; closing it early closes the connection.
 *   <li>A connection failure, a connect or read time-out, a body that ends before its declared length and a malformed
 *       answer are {@link IOException}s. An idempotent request that fails on a reused connection before any byte of
 *       the answer arrived (the server had closed it while it was idle) is sent once more on a new connection.
 *   <li>{@code https} servers get TLS as the {@link LinkPolicy} says (the platform's trust store or a private CA,
 *       hostname verification, pinned keys), a handshake bounded in time, and every answer must keep to the
 *       policy's minimum rate once it has started; plain {@code http} beyond loopback is refused unless the policy
 *       allows it.
 *   <li>Bounded: the status line and headers together at most {@value #HEAD_BYTES_MAX} bytes, at most
 *       {@value #IDLE_MAX} idle connections, none reused after {@link #IDLE_REUSE_MAX} idle (servers drop idle
 *       connections; a fresh one beats a failed write).
 *   <li>{@link #close} closes every connection, also those in use: a thread blocked reading one gets an exception.
 * </ul>
 */
public final class HttpLink implements AutoCloseable {
    static final int HEAD_BYTES_MAX = 64 * 1024;
    static final int IDLE_MAX = 8;
    static final int DIRECT_READ_BYTES_MAX = 64 * 1024;
    static final Duration IDLE_REUSE_MAX = Duration.ofSeconds(4);

    /** One answer. {@link #headers} has lower-case names; repeated headers are joined with ", ". */
    public record Response(int status, Map<String, String> headers, InputStream body) implements AutoCloseable {
        /** The header's value, or "" when the answer has none. */
        public String header(String name) {
            return headers.getOrDefault(name.toLowerCase(Locale.ROOT), "");
        }

        /** Content-Length, or -1 when the answer declares none. */
        public long contentLength() {
            String v = header("content-length");
            return v.isEmpty() ? -1 : Long.parseLong(v);
        }

        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    /** The server URL's path, ending with "/": request paths are relative to it. */
    private final String basePath;

    private final String host;
    private final int port;
    private final boolean tls;
    private final String hostHeader;
    private final int connectTimeoutMs;
    private final LinkPolicy policy;
    /** The policy's socket factory, made on the first https connection (a private CA is parsed once). */
    private SSLSocketFactory tlsFactory;

    private final ArrayDeque<Connection> idle = new ArrayDeque<>();
    private final Set<Connection> open = new HashSet<>();
    private boolean closed;

    public HttpLink(URI server, Duration connectTimeout) {
        this(server, connectTimeout, LinkPolicy.DEFAULT);
    }

    /** As above, under {@code policy}; a server it refuses is refused here (exit 2). */
    public HttpLink(URI server, Duration connectTimeout, LinkPolicy policy) {
        this.policy = policy;
        String scheme = server.getScheme() == null ? "" : server.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("not an http or https URL: " + server);
        }
        if (server.getHost() == null) {
            throw new IllegalArgumentException("no host in " + server);
        }
        String path = server.getRawPath() == null || server.getRawPath().isEmpty() ? "/" : server.getRawPath();
        this.basePath = path.endsWith("/") ? path : path + "/";
        this.tls = scheme.equals("https");
        this.host = server.getHost();
        int defaultPort = tls ? 443 : 80;
        this.port = server.getPort() < 0 ? defaultPort : server.getPort();
        this.hostHeader = port == defaultPort ? host : host + ":" + port;
        this.connectTimeoutMs = Math.toIntExact(connectTimeout.toMillis());
        policy.checkServer(server);
    }

    /**
     * Sends {@code method} to {@code path} (relative to the server URL's path, query included) with {@code headers}
     * (name, value, name, value, ...) and {@code body} (null for none). {@code readTimeout} bounds each wait for
     * bytes from the server. The caller closes the answer.
     */
    public Response exchange(
            String method, String path, String[] headers, byte[] body, Duration readTimeout, boolean idempotent)
            throws IOException {
        // Appended, not URI.resolve'd: the device's paths are its own, and a URI parse per request was most of what
        // the JIT inlined into the download loop.
        for (int i = 0; i < path.length(); i++) {
            char ch = path.charAt(i);
            if (ch <= ' ' || ch >= 0x7f) {
                throw new IllegalArgumentException("not a request path: " + printable(path));
            }
        }
        String requestTarget = path.startsWith("/") ? path : basePath + path;
        byte[] head = head(method, requestTarget, headers, body);
        for (int attempt = 0; ; attempt++) {
            Connection c = take(attempt > 0); // a retry never takes another idle connection: it may be stale too
            boolean reused = c.exchanges > 0;
            try {
                c.answerStarted = false;
                c.socket.setSoTimeout(Math.toIntExact(readTimeout.toMillis()));
                c.out.write(head);
                if (body != null) {
                    c.out.write(body);
                }
                c.out.flush();
                return c.readResponse(method);
            } catch (IOException e) {
                c.close();
                if (!(reused && idempotent && attempt == 0 && !c.answerStarted)) {
                    throw e;
                }
            }
        }
    }

    private byte[] head(String method, String requestTarget, String[] headers, byte[] body) {
        StringBuilder s = new StringBuilder(256)
                .append(method)
                .append(' ')
                .append(requestTarget)
                .append(" HTTP/1.1\r\nHost: ")
                .append(hostHeader)
                .append("\r\n");
        for (int i = 0; i + 1 < headers.length; i += 2) {
            String name = headers[i];
            String value = headers[i + 1];
            if (name.indexOf('\r') >= 0
                    || name.indexOf('\n') >= 0
                    || value.indexOf('\r') >= 0
                    || value.indexOf('\n') >= 0) {
                throw new IllegalArgumentException("line break in header " + name);
            }
            s.append(name).append(": ").append(value).append("\r\n");
        }
        if (body != null) {
            s.append("Content-Length: ").append(body.length).append("\r\n");
        }
        return s.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    private Connection take(boolean fresh) throws IOException {
        long now = System.nanoTime();
        synchronized (this) {
            if (closed) {
                throw new IOException("the link is closed");
            }
            for (Connection c; !fresh && (c = idle.pollLast()) != null; ) {
                if (now - c.idleSinceNanos < IDLE_REUSE_MAX.toNanos()) {
                    return c;
                }
                c.close();
            }
        }
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(host, port), connectTimeoutMs);
            socket.setTcpNoDelay(true);
            if (tls) {
                socket = startTls(socket);
            }
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        Connection c = new Connection(socket);
        synchronized (this) {
            if (closed) {
                socket.close();
                throw new IOException("the link is closed");
            }
            open.add(c);
        }
        return c;
    }

    /**
     * TLS over a connected socket, as the policy says: its trust, server name indication and hostname check, the
     * handshake bounded by its time-out (a server that accepts and then says nothing must not hold a sync forever),
     * and its pins checked before any byte is sent.
     */
    private SSLSocket startTls(Socket plain) throws IOException {
        SSLSocketFactory factory;
        synchronized (this) {
            if (tlsFactory == null) {
                tlsFactory = policy.socketFactory();
            }
            factory = tlsFactory;
        }
        SSLSocket s = (SSLSocket) factory.createSocket(plain, host, port, true);
        SSLParameters p = s.getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS");
        s.setSSLParameters(p);
        s.setSoTimeout(Math.toIntExact(policy.handshakeTimeout().toMillis()));
        try {
            s.startHandshake();
        } catch (java.net.SocketTimeoutException e) {
            throw new java.net.SocketTimeoutException("the TLS handshake did not end within "
                    + policy.handshakeTimeout().toSeconds() + " s");
        }
        policy.checkPins(s.getSession());
        return s;
    }

    private synchronized void release(Connection c) {
        if (closed || idle.size() >= IDLE_MAX) {
            c.close();
            return;
        }
        c.idleSinceNanos = System.nanoTime();
        idle.addLast(c);
    }

    private synchronized void forget(Connection c) {
        open.remove(c);
        idle.remove(c);
    }

    @Override
    public void close() {
        Connection[] all;
        synchronized (this) {
            closed = true;
            all = open.toArray(new Connection[0]);
        }
        for (Connection c : all) {
            c.close();
        }
    }

    /** One socket and its buffered reading; used by one exchange at a time. */
    private final class Connection {
        final Socket socket;
        final InputStream in;
        final OutputStream out;
        final byte[] buf = new byte[16 * 1024];
        int pos;
        int limit;
        int exchanges;
        long idleSinceNanos;
        boolean answerStarted;
        /** Bytes of the answer's head read so far, against {@link #HEAD_BYTES_MAX}. */
        int headBytes;
        /** When this exchange's answer began to arrive (0: not yet), and its bytes since: the minimum rate. */
        long firstByteNanos;

        long answerBytes;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = new java.io.BufferedOutputStream(socket.getOutputStream(), 8 * 1024);
        }

        /**
         * The next answer's head, and its body as a stream. Kept in small methods: the JIT compiles a hot loop with
         * everything it calls inlined, and one large method here cost a 7 MB compiler arena on a device.
         */
        Response readResponse(String method) throws IOException {
            exchanges++;
            headBytes = 0;
            firstByteNanos = 0;
            answerBytes = 0;
            String statusLine;
            int status;
            Map<String, String> headers;
            do { // interim answers (100 Continue) come before the real one
                statusLine = line(HEAD_BYTES_MAX);
                headBytes += statusLine.length() + 2;
                status = statusOf(statusLine);
                headers = readHeaders();
            } while (status >= 100 && status < 200);
            boolean keepAlive = statusLine.startsWith("HTTP/1.1") && !has(headers, "connection", "close");
            return new Response(status, headers, body(method, status, headers, keepAlive));
        }

        private Map<String, String> readHeaders() throws IOException {
            Map<String, String> headers = new HashMap<>();
            for (String line; !(line = line(HEAD_BYTES_MAX - headBytes)).isEmpty(); ) {
                headBytes += line.length() + 2;
                int colon = line.indexOf(':');
                if (colon <= 0) {
                    throw new IOException("malformed header line: " + printable(line));
                }
                String name = line.substring(0, colon).strip().toLowerCase(Locale.ROOT);
                String value = line.substring(colon + 1).strip();
                String earlier = headers.get(name);
                headers.put(name, earlier == null ? value : earlier + ", " + value);
            }
            return headers;
        }

        private InputStream body(String method, int status, Map<String, String> headers, boolean keepAlive)
                throws IOException {
            if (method.equals("HEAD") || status == 204 || status == 304) {
                return new FixedBody(this, 0, keepAlive);
            }
            if (has(headers, "transfer-encoding", "chunked")) {
                return new ChunkedBody(this, keepAlive);
            }
            String declared = headers.get("content-length");
            if (declared == null) {
                return new FixedBody(this, Long.MAX_VALUE, false); // until the server closes
            }
            long length;
            try {
                length = Long.parseLong(declared);
            } catch (NumberFormatException e) {
                throw new IOException("bad Content-Length: " + printable(declared));
            }
            if (length < 0) {
                throw new IOException("negative Content-Length");
            }
            return new FixedBody(this, length, keepAlive);
        }

        /** One CRLF- (or LF-) terminated line of at most {@code max} bytes, without its terminator. */
        String line(int max) throws IOException {
            StringBuilder s = new StringBuilder(64);
            while (true) {
                if (pos == limit && !fill()) {
                    throw new EOFException(
                            s.isEmpty() && !answerStarted
                                    ? "the server closed the connection"
                                    : "the answer ended in a header line");
                }
                byte b = buf[pos++];
                if (b == '\n') {
                    int n = s.length();
                    if (n > 0 && s.charAt(n - 1) == '\r') {
                        s.setLength(n - 1);
                    }
                    return s.toString();
                }
                if (s.length() >= max) {
                    throw new IOException("the answer's head is longer than " + HEAD_BYTES_MAX + " bytes");
                }
                s.append((char) (b & 0xff));
            }
        }

        boolean fill() throws IOException {
            int n = in.read(buf, 0, buf.length);
            if (n <= 0) {
                return false;
            }
            pos = 0;
            limit = n;
            answerStarted = true;
            counted(n);
            return true;
        }

        /**
         * Counts {@code n} bytes of the answer and fails once it arrives slower on average than the policy's minimum
         * rate, after its grace period: a trickle would otherwise hold the device for as long as the server likes.
         */
        void counted(int n) throws IOException {
            long now = System.nanoTime();
            if (firstByteNanos == 0) {
                firstByteNanos = now;
            }
            answerBytes += n;
            long elapsed = now - firstByteNanos;
            if (elapsed > policy.slowGrace().toNanos()
                    && answerBytes * 1_000_000_000.0 / elapsed < policy.minBytesPerSecond()) {
                throw new IOException("the server sent " + answerBytes + " bytes in " + elapsed / 1_000_000_000L
                        + " s, slower than " + policy.minBytesPerSecond() + " bytes/s: dropped, resumed later");
            }
        }

        /** Up to {@code len} body bytes, or -1 at the end of the stream. */
        int read(byte[] b, int off, int len) throws IOException {
            if (pos == limit) {
                if (len >= buf.length) {
                    // Large reads skip the copy, in pieces of at most 64 KiB: the socket reads through a direct
                    // buffer of the requested size that the JDK keeps per thread, and that is resident memory.
                    int n = in.read(b, off, Math.min(len, DIRECT_READ_BYTES_MAX));
                    if (n > 0) {
                        counted(n);
                    }
                    return n;
                }
                if (!fill()) {
                    return -1;
                }
            }
            int n = Math.min(len, limit - pos);
            System.arraycopy(buf, pos, b, off, n);
            pos += n;
            return n;
        }

        void done(boolean reusable) {
            if (reusable && pos == limit) {
                release(this);
            } else {
                close(); // pipelined or trailing bytes are never expected: do not guess
            }
        }

        void close() {
            forget(this);
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing: nothing left to protect
            }
        }
    }

    /** An answer's body: read to its end, it hands its connection back; closed early, it closes the connection. */
    private abstract static class Body extends InputStream {
        final Connection c;
        final boolean keepAlive;
        private boolean finished;

        Body(Connection c, boolean keepAlive) {
            this.c = c;
            this.keepAlive = keepAlive;
        }

        /** Up to {@code len} (> 0) bytes, or -1 once {@link #finish} was called. */
        abstract int readBody(byte[] b, int off, int len) throws IOException;

        @Override
        public final int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public final int read(byte[] b, int off, int len) throws IOException {
            if (finished) {
                return -1;
            }
            return len == 0 ? 0 : readBody(b, off, len);
        }

        /** The body ended: the connection goes back to the pool when {@code reusable} (and keep-alive) holds. */
        final void finish(boolean reusable) {
            finished = true;
            c.done(reusable && keepAlive);
        }

        @Override
        public final void close() {
            if (!finished) {
                finish(false);
            }
        }
    }

    /** A body of known length (or, with {@link Long#MAX_VALUE}, until the connection closes). */
    private static final class FixedBody extends Body {
        private final boolean untilClose;
        private long remaining;

        FixedBody(Connection c, long length, boolean keepAlive) {
            super(c, keepAlive);
            this.remaining = length;
            this.untilClose = length == Long.MAX_VALUE;
            if (length == 0) {
                finish(true);
            }
        }

        @Override
        int readBody(byte[] b, int off, int len) throws IOException {
            int n = c.read(b, off, (int) Math.min(len, remaining));
            if (n < 0) {
                if (untilClose) {
                    finish(false);
                    return -1;
                }
                throw new EOFException("the body ended " + remaining + " bytes early");
            }
            remaining -= n;
            if (remaining == 0) {
                finish(true);
            }
            return n;
        }
    }

    /** A body in chunked transfer coding. */
    private static final class ChunkedBody extends Body {
        private long chunkLeft;

        ChunkedBody(Connection c, boolean keepAlive) {
            super(c, keepAlive);
        }

        @Override
        int readBody(byte[] b, int off, int len) throws IOException {
            if (chunkLeft == 0) {
                String size = c.line(1024);
                int semi = size.indexOf(';');
                try {
                    chunkLeft = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).strip(), 16);
                } catch (NumberFormatException e) {
                    throw new IOException("bad chunk size: " + printable(size));
                }
                if (chunkLeft < 0) {
                    throw new IOException("negative chunk size");
                }
                if (chunkLeft == 0) {
                    for (int trailerBytes = 0; ; ) { // trailers, then the empty line
                        String trailer = c.line(HEAD_BYTES_MAX - trailerBytes);
                        if (trailer.isEmpty()) {
                            break;
                        }
                        trailerBytes += trailer.length() + 2;
                    }
                    finish(true);
                    return -1;
                }
            }
            int n = c.read(b, off, (int) Math.min(len, chunkLeft));
            if (n < 0) {
                throw new EOFException("the body ended inside a chunk");
            }
            chunkLeft -= n;
            if (chunkLeft == 0 && !c.line(2).isEmpty()) {
                throw new IOException("no line end after a chunk");
            }
            return n;
        }
    }

    private static int statusOf(String statusLine) throws IOException {
        if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' ') {
            throw new IOException("not an HTTP/1.x status line: " + printable(statusLine));
        }
        try {
            return Integer.parseInt(statusLine.substring(9, 12));
        } catch (NumberFormatException e) {
            throw new IOException("bad status in: " + printable(statusLine));
        }
    }

    /** Whether the header's value names {@code token} (case-insensitive), as in "Connection: keep-alive, close". */
    private static boolean has(Map<String, String> headers, String name, String token) {
        String value = headers.get(name);
        return value != null && value.toLowerCase(Locale.ROOT).contains(token);
    }

    private static String printable(String s) {
        StringBuilder out = new StringBuilder(Math.min(s.length(), 80) + 3);
        for (int i = 0; i < s.length() && i < 80; i++) {
            char ch = s.charAt(i);
            out.append(ch >= 0x20 && ch < 0x7f ? ch : '?');
        }
        return s.length() > 80 ? out.append("...").toString() : out.toString();
    }
}
