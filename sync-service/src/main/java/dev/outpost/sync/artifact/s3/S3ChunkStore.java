package dev.outpost.sync.artifact.s3;

import dev.outpost.model.artifact.Sha256;
import dev.outpost.sync.artifact.ChunkStore;
import dev.outpost.sync.artifact.RangeStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * {@link ChunkStore} in an S3 bucket (AWS S3 or any S3-compatible store: MinIO, Ceph, GCS interoperability), so
 * that every replica serves every blob: {@code PREFIX chunks/ab/abcd...} and {@code PREFIX deltas/ab/abcd...}, the
 * layout of the file-system store.
 *
 * <p>An object PUT is atomic in S3 (a reader sees the whole object or none) and carries a Content-MD5 the store
 * checks, so a blob is whole or absent as the contract asks. Blobs are content-addressed and never change, so their
 * lengths are cached (bounded) and a ranged serve costs one GET, streamed. The SDK's newer default checksums (a
 * trailing CRC32 in aws-chunked bodies) are off: several S3-compatible stores refuse them, and Content-MD5 covers
 * the same ground for whole-object PUTs.
 */
public final class S3ChunkStore implements ChunkStore, AutoCloseable {
    /** Lengths kept: about 120 bytes each, so a few MiB at most. */
    private static final int LENGTHS_CACHED = 20_000;

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    /** Keys a lookup just found absent, until the PUT that follows (at most this many, oldest dropped first). */
    private static final int ABSENT_REMEMBERED = 1_000;

    private final java.util.Set<String> absent = new java.util.LinkedHashSet<>();
    private final Map<String, Long> lengths = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
            return size() > LENGTHS_CACHED;
        }
    };

    S3ChunkStore(S3Client s3, String bucket, String prefix) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix.isEmpty() || prefix.endsWith("/") ? prefix : prefix + "/";
    }

    /** Settings for {@link #open}. */
    public record Settings(
            String bucket,
            Optional<URI> endpoint,
            String region,
            String prefix,
            boolean pathStyle,
            Optional<String> accessKeyId,
            Optional<String> secretAccessKey,
            Duration timeout) {}

    /**
     * Connects and checks the bucket is there and readable (a HEAD of the bucket), so a wrong name or credential
     * stops the start with a clear message instead of failing the first upload.
     */
    public static S3ChunkStore open(Settings settings) throws IOException {
        AwsCredentialsProvider credentials;
        if (settings.accessKeyId().isPresent() != settings.secretAccessKey().isPresent()) {
            throw new IllegalArgumentException(
                    "outpost.artifacts.s3.access-key-id and secret-access-key go together: give both or neither");
        }
        credentials = settings.accessKeyId().isPresent()
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(
                        settings.accessKeyId().get(), settings.secretAccessKey().get()))
                : DefaultCredentialsProvider.builder().build();
        S3ClientBuilder builder = S3Client.builder()
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials)
                .forcePathStyle(settings.pathStyle())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(settings.timeout())
                        .socketTimeout(settings.timeout()));
        settings.endpoint().ifPresent(builder::endpointOverride);
        S3Client client = builder.build();
        try {
            client.headBucket(b -> b.bucket(settings.bucket()));
        } catch (SdkException e) {
            client.close();
            throw new IOException(
                    "cannot reach the bucket " + settings.bucket()
                            + settings.endpoint().map(u -> " at " + u).orElse("") + ": " + e.getMessage(),
                    e);
        }
        return new S3ChunkStore(client, settings.bucket(), settings.prefix());
    }

    @Override
    public boolean put(Kind kind, Sha256 hash, byte[] bytes) throws IOException {
        return store(kind, hash, bytes.length, md5(bytes), RequestBody.fromBytes(bytes));
    }

    @Override
    public boolean putFile(Kind kind, Sha256 hash, java.nio.file.Path file) throws IOException {
        // Streamed from the file; S3 checks the length it was told, and the name is the content's hash.
        return store(kind, hash, java.nio.file.Files.size(file), null, RequestBody.fromFile(file));
    }

    /** One PUT of {@code length} bytes unless the blob is there; {@code md5} (base64) when known, for S3 to check. */
    private boolean store(Kind kind, Sha256 hash, long length, String md5, RequestBody body) throws IOException {
        String key = key(kind, hash);
        // An upload asks for a chunk's length, then stores it when absent: that answer stands for the PUT (another
        // replica storing the same chunk meanwhile only means the same bytes written twice).
        boolean justLookedUp;
        synchronized (lengths) {
            if (lengths.containsKey(key)) {
                return false;
            }
        }
        synchronized (absent) {
            justLookedUp = absent.remove(key);
        }
        if (!justLookedUp && length(kind, hash).isPresent()) {
            return false;
        }
        try {
            s3.putObject(
                    b -> b.bucket(bucket)
                            .key(key)
                            .contentLength(length)
                            .contentType("application/octet-stream")
                            .contentMD5(md5),
                    body);
        } catch (SdkException e) {
            throw failed("store", key, e);
        }
        synchronized (absent) {
            absent.remove(key); // the lookup just above marked it
        }
        remember(key, length);
        return true;
    }

    @Override
    public boolean contains(Kind kind, Sha256 hash) throws IOException {
        return length(kind, hash).isPresent();
    }

    @Override
    public OptionalLong length(Kind kind, Sha256 hash) throws IOException {
        String key = key(kind, hash);
        Long known;
        synchronized (lengths) {
            known = lengths.get(key);
        }
        if (known != null) {
            return OptionalLong.of(known);
        }
        try {
            long length = s3.headObject(b -> b.bucket(bucket).key(key)).contentLength();
            remember(key, length);
            return OptionalLong.of(length);
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                synchronized (absent) {
                    absent.add(key);
                    if (absent.size() > ABSENT_REMEMBERED) {
                        absent.remove(absent.iterator().next());
                    }
                }
                return OptionalLong.empty();
            }
            throw failed("look up", key, e);
        } catch (SdkException e) {
            throw failed("look up", key, e);
        }
    }

    @Override
    public Optional<byte[]> read(Kind kind, Sha256 hash) throws IOException {
        String key = key(kind, hash);
        try {
            byte[] bytes = s3.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray();
            remember(key, bytes.length);
            return Optional.of(bytes);
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw failed("read", key, e);
        } catch (SdkException e) {
            throw failed("read", key, e);
        }
    }

    @Override
    public Optional<Blob> blob(Kind kind, Sha256 hash) throws IOException {
        OptionalLong length = length(kind, hash);
        if (length.isEmpty()) {
            return Optional.empty();
        }
        String key = key(kind, hash);
        return Optional.of(new Blob(length.getAsLong(), Optional.empty(), (first, count) -> {
            if (count == 0) {
                return InputStream.nullInputStream();
            }
            try {
                // The SDK hands the connection's stream over: bytes flow through, a buffer at a time.
                InputStream in = s3.getObject(
                        b -> b.bucket(bucket).key(key).range("bytes=" + first + "-" + (first + count - 1)));
                return new RangeStream(in, count);
            } catch (SdkException e) {
                throw failed("read", key, e);
            }
        }));
    }

    @Override
    public void delete(Kind kind, Sha256 hash) throws IOException {
        String key = key(kind, hash);
        synchronized (lengths) {
            lengths.remove(key);
        }
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(key));
        } catch (SdkException e) {
            throw failed("delete", key, e);
        }
    }

    @Override
    public void forEach(Kind kind, BlobVisitor visitor) throws IOException {
        String under = prefix + kind.name().toLowerCase(Locale.ROOT) + "s/";
        try {
            // A page of keys at a time (1,000 by default), however many the bucket holds.
            for (var object : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(under))
                    .contents()) {
                String name = object.key().substring(object.key().lastIndexOf('/') + 1);
                if (Sha256.isHex(name)) {
                    visitor.visit(Sha256.parse(name));
                }
            }
        } catch (SdkException e) {
            throw new IOException("the object store could not list " + bucket + "/" + under + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "s3://" + bucket + "/" + prefix;
    }

    @Override
    public void close() {
        s3.close();
    }

    private void remember(String key, long length) {
        synchronized (lengths) {
            lengths.put(key, length);
        }
    }

    private String key(Kind kind, Sha256 hash) {
        String hex = hash.hex();
        return prefix + kind.name().toLowerCase(Locale.ROOT) + "s/" + hex.substring(0, 2) + "/" + hex;
    }

    private IOException failed(String what, String key, SdkException e) {
        return new IOException(
                "the object store could not " + what + " " + bucket + "/" + key + ": " + e.getMessage(), e);
    }

    private static String md5(byte[] bytes) {
        try {
            return Base64.getEncoder()
                    .encodeToString(MessageDigest.getInstance("MD5").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has MD5", e);
        }
    }
}
