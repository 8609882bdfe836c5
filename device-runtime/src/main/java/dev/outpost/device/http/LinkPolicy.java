package dev.outpost.device.http;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * What a link to the service must be (device-runtime README, "Links"):
 *
 * <ul>
 *   <li>{@code https}, or plain {@code http} only to a loopback address, unless {@link #insecureHttp} (a test network,
 *       said at {@code init --insecure});
 *   <li>the server's certificate chains to the platform's trust store, or, when {@link #caPem} is given, to those
 *       certificates only (a private CA); with {@link #pins}, the chain must also hold a certificate whose public key
 *       (SubjectPublicKeyInfo) hashes to one of them ({@code sha256/BASE64}, as HPKP and curl write them);
 *   <li>the TLS handshake ends within {@link #handshakeTimeout}; once an answer has started, it arrives at
 *       {@link #minBytesPerSecond} on average or faster after {@link #slowGrace}: a server that trickles (a slow
 *       retrieval attack, or a link that is not worth holding) is dropped and the work resumes later.
 * </ul>
 */
public record LinkPolicy(
        boolean insecureHttp,
        String caPem,
        Set<String> pins,
        Duration handshakeTimeout,
        long minBytesPerSecond,
        Duration slowGrace) {

    public static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final long MIN_BYTES_PER_SECOND = 1024;
    public static final Duration SLOW_GRACE = Duration.ofSeconds(30);

    /** The platform's trust store, no pins, https required beyond loopback. */
    public static final LinkPolicy DEFAULT = of(false, null, "");

    public LinkPolicy {
        pins = Set.copyOf(pins);
        caPem = caPem == null || caPem.isBlank() ? null : caPem;
    }

    /** The policy as settings hold it: {@code pins} comma-separated. */
    public static LinkPolicy of(boolean insecureHttp, String caPem, String pins) {
        Set<String> parsed = new LinkedHashSet<>();
        for (String p : pins == null ? new String[0] : pins.split(",")) {
            if (!p.isBlank()) {
                parsed.add(checkPin(p.strip()));
            }
        }
        return new LinkPolicy(insecureHttp, caPem, parsed, HANDSHAKE_TIMEOUT, MIN_BYTES_PER_SECOND, SLOW_GRACE);
    }

    /** {@code sha256/BASE64} of 32 bytes, or a clear refusal (exit 2). */
    public static String checkPin(String pin) {
        try {
            if (pin.startsWith("sha256/") && Base64.getDecoder().decode(pin.substring(7)).length == 32) {
                return pin;
            }
        } catch (IllegalArgumentException e) {
            // not base64: said below
        }
        throw new DeviceException(
                ExitCode.BAD_INPUT, "pin '" + pin + "' is not sha256/ and the base64 of a SHA-256 public key hash");
    }

    /** The certificates of a PEM file, or a clear refusal (exit 2) when it holds none. */
    public static String checkCa(String pem, String from) {
        if (certificates(pem, from).isEmpty()) {
            throw new DeviceException(ExitCode.BAD_INPUT, from + " holds no PEM certificate");
        }
        return pem;
    }

    private static List<X509Certificate> certificates(String pem, String from) {
        try {
            Collection<? extends Certificate> all = CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : all) {
                out.add((X509Certificate) c);
            }
            return out;
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, from + " is not a PEM certificate file: " + e.getMessage());
        }
    }

    /** Refuses (exit 2) a server URL this policy does not allow: plain http beyond loopback without the flag. */
    public void checkServer(URI server) {
        String scheme = server.getScheme() == null ? "" : server.getScheme().toLowerCase(Locale.ROOT);
        if (scheme.equals("http") && !insecureHttp && !isLoopback(server.getHost())) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT,
                    "refusing plain http to " + server.getHost() + ": anyone on the path could read the credential"
                            + " and change what syncs; use https, or init with --insecure on a test network");
        }
    }

    /** A loopback address written literally (a name that resolves to one is not trusted to keep doing so). */
    static boolean isLoopback(String host) {
        if (host == null) {
            return false;
        }
        String h = host.toLowerCase(Locale.ROOT);
        // 127.x.y.z as an address literal: a name such as 127.attacker.example is a name like any other.
        return h.equals("localhost")
                || h.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}")
                || h.equals("[::1]")
                || h.equals("::1");
    }

    /** The socket factory for this policy's trust: the platform's, or one that trusts only {@link #caPem}. */
    SSLSocketFactory socketFactory() throws IOException {
        if (caPem == null) {
            return (SSLSocketFactory) SSLSocketFactory.getDefault();
        }
        try {
            KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
            trusted.load(null, null);
            int i = 0;
            for (X509Certificate c : certificates(caPem, "the trusted CA")) {
                trusted.setCertificateEntry("ca-" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trusted);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, tmf.getTrustManagers(), null);
            return context.getSocketFactory();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up the trusted CA: " + e.getMessage(), e);
        }
    }

    /** Fails unless the handshake's chain holds a pinned public key (no pins: nothing to check). */
    void checkPins(SSLSession session) throws IOException {
        if (pins.isEmpty()) {
            return;
        }
        for (Certificate c : session.getPeerCertificates()) {
            if (pins.contains(pinOf(c))) {
                return;
            }
        }
        throw new SSLPeerUnverifiedException(
                "the server's certificate chain holds none of the pinned public keys " + pins);
    }

    /** {@code sha256/BASE64} of the certificate's SubjectPublicKeyInfo. */
    public static String pinOf(Certificate c) {
        try {
            return "sha256/"
                    + Base64.getEncoder()
                            .encodeToString(MessageDigest.getInstance("SHA-256")
                                    .digest(c.getPublicKey().getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is missing from this runtime", e);
        }
    }
}
