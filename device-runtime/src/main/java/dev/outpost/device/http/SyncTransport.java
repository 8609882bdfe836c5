package dev.outpost.device.http;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.wire.Gzip;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.zip.GZIPOutputStream;

/**
 * HTTP to the sync service. Contract: {@link #post} and {@link #get} return the status and body of any answer the
 * server gave; a connection failure or time-out is {@link ExitCode#UNREACHABLE} (nothing was committed locally, so
 * the caller can simply try again).
 */
public final class SyncTransport {
    /** {@code schemaVersion}: the version of the schema the service runs, as it says on its answers (0: not said). */
    public record Answer(int status, String contentType, byte[] body, int schemaVersion) {}

    /** The header on which the service says which schema version it runs. */
    static final String SCHEMA_VERSION_HEADER = "Outpost-Schema-Version";

    /** Request bodies above this size go gzip-compressed; smaller ones would not shrink enough to pay for it. */
    static final int COMPRESS_ABOVE_BYTES = 1024;

    /** A compressed answer may inflate to at most this (the service's pages are far smaller). */
    static final int ANSWER_BYTES_MAX = 64 * 1024 * 1024;

    private final HttpLink http;
    private final URI server;
    private final String token;

    public SyncTransport(String server, String token) {
        this(server, token, LinkPolicy.DEFAULT);
    }

    public SyncTransport(String server, String token, LinkPolicy policy) {
        this.server = URI.create(server.endsWith("/") ? server : server + "/");
        this.http = new HttpLink(this.server, Duration.ofSeconds(10), policy);
        this.token = token;
    }

    /** Posts {@code body}, gzip-compressed when that saves a tenth or more; answers may come compressed. */
    public Answer post(String path, String contentType, byte[] body) {
        byte[] gzipped = body.length > COMPRESS_ABOVE_BYTES ? gzip(body) : null;
        // The binary encoding is dense already: random row ids, say, leave gzip nothing to take.
        boolean compress = gzipped != null && gzipped.length < body.length - body.length / 10;
        String[] headers = {
            "Authorization",
            "Bearer " + token,
            "Content-Type",
            contentType,
            "Accept",
            contentType + ", application/problem+json",
            "Accept-Encoding",
            "gzip",
            "Content-Encoding",
            compress ? "gzip" : "identity"
        };
        // Idempotent by protocol: a batch sent again is answered from its batch id and applied once.
        return send("POST", path, headers, compress ? gzipped : body, Duration.ofSeconds(120), true);
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

    private static int schemaVersion(String header) {
        try {
            return header == null || header.isBlank() ? 0 : Math.max(0, Integer.parseInt(header.strip()));
        } catch (NumberFormatException e) {
            return 0; // said wrongly: taken as not said, so the device stays on its schema
        }
    }

    public Answer get(String path) {
        String[] headers = {"Authorization", "Bearer " + token, "Accept-Encoding", "gzip"};
        return send("GET", path, headers, null, Duration.ofSeconds(20), true);
    }

    private Answer send(
            String method, String path, String[] headers, byte[] body, Duration timeout, boolean idempotent) {
        try (HttpLink.Response r = http.exchange(method, path, headers, body, timeout, idempotent)) {
            InputStream in = r.body();
            byte[] raw = in.readNBytes(ANSWER_BYTES_MAX);
            if (in.read() >= 0) {
                throw new DeviceException(
                        ExitCode.UNREACHABLE,
                        "the answer from " + server + " is larger than " + ANSWER_BYTES_MAX
                                + " bytes; nothing was lost, sync again later");
            }
            return new Answer(
                    r.status(),
                    r.header("Content-Type"),
                    inflate(r.header("Content-Encoding"), raw),
                    schemaVersion(r.header(SCHEMA_VERSION_HEADER)));
        } catch (IOException e) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE,
                    "server " + server + " unreachable (" + e.getClass().getSimpleName()
                            + (e.getMessage() == null ? "" : ": " + e.getMessage())
                            + "); nothing was lost, sync again later",
                    e);
        } catch (dev.outpost.model.OutpostException e) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE,
                    "the answer from " + server + " could not be inflated (" + e.getMessage()
                            + "); nothing was lost, sync again later",
                    e);
        }
    }
}
