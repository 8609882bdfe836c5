package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.http.HttpLink;
import dev.outpost.device.sync.Problem;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Downloads for model installs. A body cut short is resumed with an HTTP Range request from the byte it stopped at,
 * a bounded number of times; every byte that crosses the network is counted. Contract: a server that cannot be
 * reached, or keeps failing, is {@link ExitCode#UNREACHABLE}; a refusal (4xx) is {@link ExitCode#REFUSED} with the
 * problem's code and message.
 */
public final class ArtifactClient {
    /** Attempts per download before the install stops (it resumes from there next time). */
    static final int ATTEMPTS_MAX = 6;

    /** Keep-alive connections to the server, opened on the first request ({@code model status} sends none). */
    private final HttpLink http;

    private final String token;
    private final AtomicLong bytesDownloaded = new AtomicLong();

    public ArtifactClient(String server, String token) {
        this.http = new HttpLink(URI.create(server.endsWith("/") ? server : server + "/"), Duration.ofSeconds(10));
        this.token = token;
    }

    public long bytesDownloaded() {
        return bytesDownloaded.get();
    }

    /**
     * The whole body of {@code path}, at most {@code maxBytes}, resuming a cut body with Range. A body of declared
     * length is read straight into an array of that size: frames are up to a few hundred KB, and every extra copy
     * is heap the garbage collector has to find room for.
     */
    public byte[] fetch(String path, int maxBytes) {
        byte[] body = new byte[0];
        int have = 0; // bytes of the body received, kept across attempts
        IOException last = null;
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            if (attempt > 0) {
                pause(attempt);
            }
            try (HttpLink.Response r = get(path, have)) {
                InputStream in = r.body();
                long from = resumesAt(r, have, path);
                if (from < 0) {
                    have = 0;
                    continue;
                }
                have = (int) from;
                long declared = r.contentLength(); // of this answer: for a 206, the rest
                if (declared > (long) maxBytes - have) {
                    throw tooLarge(path, maxBytes);
                }
                if (declared >= 0) {
                    body = Arrays.copyOf(body, have + (int) declared);
                    while (have < body.length) { // an early end is an EOFException: resumed from here
                        int n = in.read(body, have, body.length - have);
                        if (n < 0) {
                            throw new EOFException("the body ended after " + have + " bytes");
                        }
                        have += n;
                        bytesDownloaded.addAndGet(n);
                    }
                    return body;
                }
                for (int n; ; have += n) { // no declared length: until the stream ends
                    if (have == body.length) {
                        if (have > maxBytes) {
                            throw tooLarge(path, maxBytes);
                        }
                        body = Arrays.copyOf(body, Math.min(Math.max(2 * have, 64 * 1024), maxBytes + 1));
                    }
                    n = in.read(body, have, body.length - have);
                    if (n < 0) {
                        return Arrays.copyOf(body, have);
                    }
                    bytesDownloaded.addAndGet(n);
                }
            } catch (IOException e) {
                last = e; // cut short: the next attempt asks for the rest
            }
        }
        throw failed(path, last);
    }

    /**
     * As {@link #fetch}, into {@code file} (created or truncated) instead of memory, synced when this returns: for
     * documents that grow with a model, such as its manifest. A failed write to the file is an
     * {@link UncheckedIOException} (not retried: it is the device's storage, not the link).
     */
    public void fetchTo(String path, long maxBytes, Path file) {
        try (FileChannel out = FileChannel.open(
                file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            byte[] piece = new byte[32 * 1024];
            long have = 0; // bytes of the body in the file, kept across attempts
            IOException last = null;
            for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
                if (attempt > 0) {
                    pause(attempt);
                }
                try (HttpLink.Response r = get(path, have)) {
                    InputStream in = r.body();
                    long from = resumesAt(r, have, path);
                    have = Math.max(0, from);
                    if (from < 0) {
                        continue;
                    }
                    long declared = r.contentLength();
                    if (declared > maxBytes - have) {
                        throw tooLarge(path, maxBytes);
                    }
                    for (int n; (n = in.read(piece)) >= 0; ) {
                        if (have + n > maxBytes) {
                            throw tooLarge(path, maxBytes);
                        }
                        write(out, have, piece, n);
                        have += n;
                        bytesDownloaded.addAndGet(n);
                    }
                    if (declared >= 0 && have != from + declared) {
                        throw new EOFException("the body ended after " + have + " bytes");
                    }
                    out.truncate(have);
                    out.force(true);
                    return;
                } catch (IOException e) {
                    last = e; // cut short: the next attempt asks for the rest
                }
            }
            throw failed(path, last);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void write(FileChannel out, long position, byte[] piece, int length) {
        try {
            ByteBuffer b = ByteBuffer.wrap(piece, 0, length);
            while (b.hasRemaining()) {
                out.write(b, position + b.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** A GET of {@code path}, from byte {@code have} on when it is past 0. */
    private HttpLink.Response get(String path, long have) throws IOException {
        String[] headers = have > 0
                ? new String[] {"Authorization", "Bearer " + token, "Range", "bytes=" + have + "-"}
                : new String[] {"Authorization", "Bearer " + token};
        return http.exchange("GET", path, headers, null, Duration.ofSeconds(60), true);
    }

    /**
     * Where the answer's body starts in the document: 0 for a whole one, {@code have} for the asked-for rest, -1 for
     * a rest from elsewhere (ask again for the whole). A refusal is thrown.
     */
    private long resumesAt(HttpLink.Response r, long have, String path) throws IOException {
        if (r.status() == 200) {
            return 0; // the server sent the whole body again
        }
        if (r.status() == 206) {
            return r.header("Content-Range").startsWith("bytes " + have + "-") ? have : -1;
        }
        byte[] problem = r.body().readNBytes(64 * 1024);
        bytesDownloaded.addAndGet(problem.length);
        throw refusal(r.status(), problem, path);
    }

    private static DeviceException failed(String path, IOException last) {
        return new DeviceException(
                ExitCode.UNREACHABLE,
                "download of " + path + " failed " + ATTEMPTS_MAX + " times ("
                        + (last == null ? "?" : last.getMessage()) + "); progress is kept, run the update again",
                last);
    }

    /** A small JSON GET (signing key, assignments). */
    public String getJson(String path) {
        return new String(fetch(path, 1 << 20), StandardCharsets.UTF_8);
    }

    /** POSTs a JSON body; true when the server took it. Never throws for a refusal: the caller keeps the body. */
    public boolean postJson(String path, String json) {
        String[] headers = {"Authorization", "Bearer " + token, "Content-Type", "application/json"};
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        try (HttpLink.Response r = http.exchange("POST", path, headers, body, Duration.ofSeconds(20), false)) {
            r.body().readNBytes(64 * 1024); // read to the end, so the connection can carry the next request
            return r.status() / 100 == 2;
        } catch (IOException e) {
            return false;
        }
    }

    private static DeviceException tooLarge(String path, long maxBytes) {
        return new DeviceException(ExitCode.REFUSED, path + " is larger than the " + maxBytes + " bytes it may be");
    }

    private static DeviceException refusal(int status, byte[] body, String path) {
        if (status >= 500) {
            return new DeviceException(ExitCode.UNREACHABLE, "the server failed (" + status + ") on " + path);
        }
        Problem p = Problem.parse(status, body);
        return new DeviceException(ExitCode.REFUSED, "refused by the server: " + p.detail() + " [" + p.code() + "]");
    }

    private static void pause(int attempt) {
        try {
            // 100 ms, 200 ms, ... up to 3.2 s: a dropped link gets a moment, a dead one fails in under 7 s.
            Thread.sleep(Math.min(3200, 100L << (attempt - 1)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
