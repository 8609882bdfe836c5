package dev.outpost.device.sync;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.wire.Gzip;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.zip.GZIPOutputStream;

/**
 * HTTP to the sync service. Contract: {@link #post} and {@link #get} return the status and body of any answer the
 * server gave; a connection failure or time-out is {@link ExitCode#UNREACHABLE} (nothing was committed locally, so
 * the caller can simply try again).
 */
public final class SyncTransport {
    public record Answer(int status, String contentType, byte[] body) {}

    /** Request bodies above this size go gzip-compressed; smaller ones would not shrink enough to pay for it. */
    static final int COMPRESS_ABOVE_BYTES = 1024;

    /** A compressed answer may inflate to at most this (the service's pages are far smaller). */
    static final int ANSWER_BYTES_MAX = 64 * 1024 * 1024;

    /** HTTP/1.1: no h2c upgrade dance on plain links, and what field proxies pass through. */
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();

    private final URI server;
    private final String token;

    public SyncTransport(String server, String token) {
        this.server = URI.create(server.endsWith("/") ? server : server + "/");
        this.token = token;
    }

    /** Posts {@code body}, gzip-compressed when that saves a tenth or more; answers may come compressed. */
    public Answer post(String path, String contentType, byte[] body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(server.resolve(path))
                .timeout(Duration.ofSeconds(120))
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", contentType)
                .header("Accept", contentType + ", application/problem+json")
                .header("Accept-Encoding", "gzip");
        byte[] gzipped = body.length > COMPRESS_ABOVE_BYTES ? gzip(body) : null;
        if (gzipped != null && gzipped.length < body.length - body.length / 10) {
            b.header("Content-Encoding", "gzip").POST(HttpRequest.BodyPublishers.ofByteArray(gzipped));
        } else {
            // The binary encoding is dense already: random row ids, say, leave gzip nothing to take.
            b.POST(HttpRequest.BodyPublishers.ofByteArray(body));
        }
        return send(b.build());
    }

    static byte[] gzip(byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(body.length / 4 + 64);
        try (GZIPOutputStream z = new GZIPOutputStream(out, 8192)) {
            z.write(body);
        } catch (IOException e) {
            throw new IllegalStateException("gzip into memory failed", e);
        }
        return out.toByteArray();
    }

    /** The body as sent, inflated when the server compressed it. */
    static byte[] inflate(String contentEncoding, byte[] body) {
        return "gzip".equalsIgnoreCase(contentEncoding.strip()) ? Gzip.inflate(body, ANSWER_BYTES_MAX) : body;
    }

    public Answer get(String path) {
        return send(HttpRequest.newBuilder(server.resolve(path))
                .timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + token)
                .GET()
                .build());
    }

    private Answer send(HttpRequest request) {
        try {
            HttpResponse<byte[]> r = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(
                    r.statusCode(),
                    r.headers().firstValue("Content-Type").orElse(""),
                    inflate(r.headers().firstValue("Content-Encoding").orElse(""), r.body()));
        } catch (IOException e) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE,
                    "server " + server + " unreachable (" + e.getClass().getSimpleName()
                            + "); nothing was lost, sync again later",
                    e);
        } catch (dev.outpost.model.OutpostException e) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE,
                    "the answer from " + server + " could not be inflated (" + e.getMessage()
                            + "); nothing was lost, sync again later",
                    e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException(ExitCode.UNREACHABLE, "interrupted while talking to " + server, e);
        }
    }
}
