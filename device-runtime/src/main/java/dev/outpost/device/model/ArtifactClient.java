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
public final class ArtifactClient implements ArtifactLink {
    /** Attempts per download before the install stops (it resumes from there next time). */
    static final int ATTEMPTS_MAX = 6;

    /** Keep-alive connections to the server, opened on the first request ({@code model status} sends none). */
    private final HttpLink http;

    private final int attempts;

    private final String token;
    private final AtomicLong bytesDownloaded = new AtomicLong();

    public ArtifactClient(String server, String token) {
        this(server, token, dev.outpost.device.http.LinkPolicy.DEFAULT);
    }

    public ArtifactClient(String server, String token, dev.outpost.device.http.LinkPolicy policy) {
        this(server, token, policy, ATTEMPTS_MAX);
    }

    /** With {@code attempts} per download (1: a question that may go unanswered, asked once). */
    public ArtifactClient(String server, String token, dev.outpost.device.http.LinkPolicy policy, int attempts) {
        this.attempts = attempts;
        this.http =
                new HttpLink(URI.create(server.endsWith("/") ? server : server + "/"), Duration.ofSeconds(10), policy);
        this.token = token;
    }

    @Override
    public long bytesDownloaded() {
        return bytesDownloaded.get();
    }

    /**
     * The whole body of {@code path}, at most {@code maxBytes}, resuming a cut body with Range. A body of declared
     * length is read straight into an array of that size: frames are up to a few hundred KB, and every extra copy
     * is heap the garbage collector has to find room for.
     */
    @Override
    public byte[] fetch(String path, int maxBytes) {
        InArray body = new InArray(path, maxBytes);
        download(path, maxBytes, body);
        return body.data;
    }

    /**
     * As {@link #fetch}, into {@code file} (created or truncated) instead of memory, synced when this returns: for
     * documents that grow with a model, such as its manifest. A failed write to the file is an
     * {@link UncheckedIOException} (not retried: it is the device's storage, not the link).
     */
    @Override
    public void fetchTo(String path, long maxBytes, Path file) {
        try (FileChannel out = FileChannel.open(
                file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            InFile body = new InFile(path, maxBytes, out);
            download(path, maxBytes, body);
            out.truncate(body.have);
            out.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void resumeTo(String path, long maxBytes, Path file) {
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            InFile body = new InFile(path, maxBytes, out);
            body.have = Math.min(out.size(), maxBytes);
            if (body.have < maxBytes) {
                download(path, maxBytes, body);
            }
            out.truncate(body.have);
            out.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Where a download's body goes; what it holds is kept across the attempts that resume it. */
    private abstract class Body {
        final String path;
        final long maxBytes;
        /** Bytes of the document held. */
        long have;

        Body(String path, long maxBytes) {
            this.path = path;
            this.maxBytes = maxBytes;
        }

        /**
         * Reads this answer's body, {@code declared} bytes ({@code -1}: until the stream ends), on from {@link #have};
         * an {@link java.io.EOFException} when it ends early (the next attempt asks for the rest).
         */
        abstract void readFrom(InputStream in, long declared) throws IOException;

        void counted(int n) {
            have += n;
            bytesDownloaded.addAndGet(n);
        }
    }

    /** The attempts of one download: asks for what the body lacks until it is whole or the attempts are used up. */
    private void download(String path, long maxBytes, Body body) {
        IOException last = null;
        for (int attempt = 0; attempt < attempts; attempt++) {
            if (attempt > 0) {
                pause(attempt);
            }
            try (HttpLink.Response r = get(path, body.have)) {
                long from = resumesAt(r, body.have, path);
                body.have = Math.max(0, from); // 0: the server sends the whole body (again)
                if (from < 0) {
                    continue;
                }
                long declared = r.contentLength(); // of this answer: for a 206, the rest
                if (declared > maxBytes - body.have) {
                    throw tooLarge(path, maxBytes);
                }
                body.readFrom(r.body(), declared);
                return;
            } catch (IOException e) {
                last = e; // cut short: the next attempt asks for the rest
            }
        }
        throw failed(path, last);
    }

    private final class InArray extends Body {
        byte[] data = new byte[0];

        InArray(String path, int maxBytes) {
            super(path, maxBytes);
        }

        @Override
        void readFrom(InputStream in, long declared) throws IOException {
            int held = (int) have;
            if (declared >= 0) {
                data = Arrays.copyOf(data, held + (int) declared);
                while (have < data.length) { // an early end is an EOFException: resumed from here
                    int n = in.read(data, (int) have, data.length - (int) have);
                    if (n < 0) {
                        throw new EOFException("the body ended after " + have + " bytes");
                    }
                    counted(n);
                }
                return;
            }
            for (int n; ; counted(n)) { // no declared length: until the stream ends
                if (have == data.length) {
                    if (have > maxBytes) {
                        throw tooLarge(path, maxBytes);
                    }
                    data = Arrays.copyOf(data, (int) Math.min(Math.max(2 * have, 64 * 1024), maxBytes + 1));
                }
                n = in.read(data, (int) have, data.length - (int) have);
                if (n < 0) {
                    data = Arrays.copyOf(data, (int) have);
                    return;
                }
            }
        }
    }

    private final class InFile extends Body {
        private final FileChannel out;
        private final byte[] piece = new byte[32 * 1024];

        InFile(String path, long maxBytes, FileChannel out) {
            super(path, maxBytes);
            this.out = out;
        }

        @Override
        void readFrom(InputStream in, long declared) throws IOException {
            long end = declared < 0 ? -1 : have + declared;
            for (int n; (n = in.read(piece)) >= 0; counted(n)) {
                if (have + n > maxBytes) {
                    throw tooLarge(path, maxBytes);
                }
                write(n);
            }
            if (end >= 0 && have != end) {
                throw new EOFException("the body ended after " + have + " bytes");
            }
        }

        /** Writes {@code piece[0, n)} at {@link #have}; a failure is the device's storage: unchecked, not retried. */
        private void write(int n) {
            try {
                ByteBuffer b = ByteBuffer.wrap(piece, 0, n);
                while (b.hasRemaining()) {
                    out.write(b, have + b.position());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
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

    private DeviceException failed(String path, IOException last) {
        return new DeviceException(
                ExitCode.UNREACHABLE,
                "download of " + path + " failed " + attempts + " times (" + (last == null ? "?" : last.getMessage())
                        + "); progress is kept, run the update again",
                last);
    }

    /** A small JSON GET (signing key, assignments). */
    @Override
    public String getJson(String path) {
        return new String(fetch(path, 1 << 20), StandardCharsets.UTF_8);
    }

    /**
     * POSTs a JSON body; returns the answer's status, or -1 when no answer came. Never throws: the caller decides what
     * becomes of the body.
     */
    @Override
    public int postJson(String path, String json) {
        String[] headers = {"Authorization", "Bearer " + token, "Content-Type", "application/json"};
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        try (HttpLink.Response r = http.exchange("POST", path, headers, body, Duration.ofSeconds(20), false)) {
            r.body().readNBytes(64 * 1024); // read to the end, so the connection can carry the next request
            return r.status();
        } catch (IOException | RuntimeException e) {
            return -1; // no answer: the report stays queued
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
