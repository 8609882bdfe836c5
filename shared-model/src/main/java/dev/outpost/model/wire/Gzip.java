package dev.outpost.model.wire;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.zip.GZIPInputStream;

/** gzip bodies on the sync wire, inflated with a bound: a small compressed body cannot grow past it in memory. */
public final class Gzip {
    private Gzip() {}

    /**
     * {@code compressed} inflated, stopping at {@code max} bytes: {@link ErrorCode#PAYLOAD_TOO_LARGE} beyond it,
     * {@link ErrorCode#MALFORMED_PAYLOAD} if it is not gzip.
     */
    public static byte[] inflate(byte[] compressed, int max) {
        try (var in = new GZIPInputStream(new ByteArrayInputStream(compressed), 8192)) {
            var out = new ByteArrayOutputStream(Math.min(max, Math.max(1024, compressed.length * 4)));
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                if (out.size() + n > max) {
                    throw new OutpostException(
                            ErrorCode.PAYLOAD_TOO_LARGE, "payload inflates to more than " + max + " bytes");
                }
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new OutpostException(
                    ErrorCode.MALFORMED_PAYLOAD, "the gzip body cannot be inflated: " + e.getMessage());
        }
    }
}
