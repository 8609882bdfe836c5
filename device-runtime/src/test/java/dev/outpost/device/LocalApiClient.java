package dev.outpost.device;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * An app on the device calling {@code outpost run}'s local API as the docs say: the token read from the home's
 * {@code api-token} file in {@code Authorization}, JSON bodies declared as such.
 */
public final class LocalApiClient {
    private final HttpClient http =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final String base;
    private final Path home;

    /** {@code base}: {@code http://127.0.0.1:PORT}, as {@code outpost run}'s banner names it. */
    public LocalApiClient(Path home, String base) {
        this.home = home;
        this.base = base;
    }

    /** The address from {@code outpost run}'s first line ("... serving on 127.0.0.1:PORT"). */
    public static String baseOf(String banner) {
        return "http://" + banner.substring(banner.indexOf("127.0.0.1:")).trim();
    }

    public String base() {
        return base;
    }

    public HttpRequest.Builder request(String path) throws IOException {
        return HttpRequest.newBuilder(URI.create(base + path))
                .header(
                        "Authorization",
                        "Bearer " + Files.readString(home.resolve("api-token")).trim());
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(request(path).build(), HttpResponse.BodyHandlers.ofString());
    }

    public CompletableFuture<HttpResponse<String>> getAsync(String path) throws IOException {
        return http.sendAsync(request(path).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** {@code method} with a JSON body ({@code json} null: an empty one). */
    public HttpResponse<String> send(String method, String path, String json) throws IOException, InterruptedException {
        return http.send(
                request(path)
                        .header("Content-Type", "application/json")
                        .method(
                                method,
                                json == null
                                        ? HttpRequest.BodyPublishers.noBody()
                                        : HttpRequest.BodyPublishers.ofString(json))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
