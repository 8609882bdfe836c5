package dev.outpost.sync.api;

import dev.outpost.model.ErrorCode;
import jakarta.ws.rs.core.Response;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP single byte ranges (RFC 9110 section 14) for immutable content: {@code bytes=a-b}, {@code bytes=a-},
 * {@code bytes=-n}. Anything else in a Range header (several ranges, other units) is ignored and the whole content
 * served, as the RFC allows; a range that starts past the end is a 416 problem.
 */
final class ByteRanges {
    private static final Pattern SINGLE = Pattern.compile("bytes=(\\d{0,18})-(\\d{0,18})");

    /** Inclusive first and last byte. */
    record Range(long first, long last) {
        long length() {
            return last - first + 1;
        }
    }

    private ByteRanges() {}

    /** The range to serve, or {@code null} for the whole content. */
    static Range parse(String header, long length) {
        if (header == null) {
            return null;
        }
        Matcher m = SINGLE.matcher(header.strip());
        if (!m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) {
            return null;
        }
        long first;
        long last;
        if (m.group(1).isEmpty()) {
            long suffix = Long.parseLong(m.group(2));
            if (suffix == 0) {
                throw unsatisfiable(length);
            }
            first = Math.max(0, length - suffix);
            last = length - 1;
        } else {
            first = Long.parseLong(m.group(1));
            last = m.group(2).isEmpty() ? length - 1 : Math.min(Long.parseLong(m.group(2)), length - 1);
            if (last < first && !m.group(2).isEmpty() && Long.parseLong(m.group(2)) < first) {
                return null; // syntactically invalid: ignore, serve the whole
            }
        }
        if (first >= length) {
            throw unsatisfiable(length);
        }
        return new Range(first, last);
    }

    /** Immutable content's headers: its hash as strong ETag, cacheable for a year by the client only. */
    static Response.ResponseBuilder immutable(Response.ResponseBuilder b, String etag) {
        return b.header("ETag", "\"" + etag + "\"")
                // Immutable, but fetched with a device's credential: a browser or the device may keep it, no shared
                // cache.
                .header("Cache-Control", "private, max-age=31536000, immutable")
                .header("Accept-Ranges", "bytes");
    }

    /** A 206 answer carrying {@code entity}, the range {@code r} of {@code length} bytes of immutable content. */
    static Response partial(Object entity, Range r, long length, String etag) {
        return immutable(Response.status(206).entity(entity).type(ArtifactResource.OCTETS), etag)
                .header("Content-Range", "bytes " + r.first() + "-" + r.last() + "/" + length)
                .build();
    }

    static boolean notModified(String ifNoneMatch, String etag) {
        return ifNoneMatch != null
                && (ifNoneMatch.contains("\"" + etag + "\"")
                        || ifNoneMatch.strip().equals("*"));
    }

    private static Problem unsatisfiable(long length) {
        return new Problem(
                ErrorCode.RANGE_NOT_SATISFIABLE,
                "the range starts past the end (" + length + " bytes)",
                java.util.Map.of("contentLength", length));
    }
}
