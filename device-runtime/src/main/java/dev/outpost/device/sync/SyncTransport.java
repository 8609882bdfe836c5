package dev.outpost.device.sync;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * HTTP to the sync service. Contract: {@link #post} and {@link #get} return the status and body of any answer the
 * server gave; a connection failure or time-out is {@link ExitCode#UNREACHABLE} (nothing was committed locally, so
 * the caller can simply try again).
 */
public final class SyncTransport {
    public record Answer(int status, String contentType, byte[] body) {}

    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final URI server;
    private final String token;

    public SyncTransport(String server, String token) {
        this.server = URI.create(server.endsWith("/") ? server : server + "/");
        this.token = token;
    }

    public Answer post(String path, String contentType, byte[] body) {
        return send(HttpRequest.newBuilder(server.resolve(path))
                .timeout(Duration.ofSeconds(120))
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", contentType)
                .header("Accept", contentType + ", application/problem+json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build());
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
                    r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
        } catch (IOException e) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE,
                    "server " + server + " unreachable (" + e.getClass().getSimpleName()
                            + "); nothing was lost, sync again later",
                    e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException(ExitCode.UNREACHABLE, "interrupted while talking to " + server, e);
        }
    }
}
