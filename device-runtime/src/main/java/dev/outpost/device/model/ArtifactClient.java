package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.sync.Problem;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
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

    /**
     * HTTP/1.1 keep-alive: one connection carries every chunk request (no h2c upgrade dance per connection). Made on
     * the first request: {@code model status} and {@code status --json} hold a client but never send anything, and
     * an HTTP client costs them its selector thread and TLS classes.
     */
    private HttpClient http;

    private final URI server;
    private final String token;
    private final AtomicLong bytesDownloaded = new AtomicLong();

    public ArtifactClient(String server, String token) {
        this.server = URI.create(server.endsWith("/") ? server : server + "/");
        this.token = token;
    }

    private synchronized HttpClient http() {
        if (http == null) {
            http = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10))
                    .build();
        }
        return http;
    }

    public long bytesDownloaded() {
        return bytesDownloaded.get();
    }

    /** The whole body of {@code path}, at most {@code maxBytes}, resuming a cut body with Range. */
    public byte[] fetch(String path, int maxBytes) {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        IOException last = null;
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            if (attempt > 0) {
                pause(attempt);
            }
            HttpRequest.Builder req = HttpRequest.newBuilder(server.resolve(path))
                    .timeout(Duration.ofSeconds(60))
                    .header("Authorization", "Bearer " + token)
                    .GET();
            if (got.size() > 0) {
                req.header("Range", "bytes=" + got.size() + "-");
            }
            try {
                HttpResponse<InputStream> r = http().send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream in = r.body()) {
                    if (r.statusCode() == 200) {
                        got.reset(); // the server sent the whole body again
                    } else if (r.statusCode() == 206) {
                        String range = r.headers().firstValue("Content-Range").orElse("");
                        if (!range.startsWith("bytes " + got.size() + "-")) {
                            got.reset();
                            continue;
                        }
                    } else {
                        byte[] body = in.readNBytes(64 * 1024);
                        bytesDownloaded.addAndGet(body.length);
                        throw refusal(r.statusCode(), body, path);
                    }
                    byte[] buf = new byte[64 * 1024];
                    for (int n; (n = in.read(buf)) > 0; ) {
                        bytesDownloaded.addAndGet(n);
                        if (got.size() + n > maxBytes) {
                            throw new DeviceException(
                                    ExitCode.REFUSED, path + " is larger than the " + maxBytes + " bytes it may be");
                        }
                        got.write(buf, 0, n);
                    }
                    long declared =
                            r.headers().firstValueAsLong("Content-Length").orElse(-1);
                    if (r.statusCode() == 206 || declared < 0 || got.size() >= declared) {
                        return got.toByteArray();
                    }
                    last = new IOException("the body ended after " + got.size() + " of " + declared + " bytes");
                }
            } catch (IOException e) {
                last = e; // cut short: the next attempt asks for the rest
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DeviceException(ExitCode.UNREACHABLE, "interrupted while downloading " + path, e);
            }
        }
        throw new DeviceException(
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
        try {
            HttpResponse<byte[]> r = http().send(
                            HttpRequest.newBuilder(server.resolve(path))
                                    .timeout(Duration.ofSeconds(20))
                                    .header("Authorization", "Bearer " + token)
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(json))
                                    .build(),
                            HttpResponse.BodyHandlers.ofByteArray());
            return r.statusCode() / 100 == 2;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
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
