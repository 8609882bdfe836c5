package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The changes feed apps follow, through the real binary and the real service: {@code outpost watch} and the local
 * API's long poll see local writes and changes another device made, pulled by a sync, with the row as {@code get}
 * shows it.
 */
class ChangesFeedIT extends WithService {
    private final HttpClient http = HttpClient.newHttpClient();

    /** A device of its own district, so the rows other test classes write on the shared service stay out. */
    private static Outpost device(String id, String district) throws Exception {
        Outpost o = new Outpost(dir.resolve(id));
        o.run("init", "--server", service.url, "--device-id", id, "--token", service.register(id, district))
                .ok();
        return o;
    }

    private static List<JsonNode> lines(String out) {
        return out.lines().filter(l -> !l.isBlank()).map(TestJson::parse).toList();
    }

    @Test
    void watchShowsLocalWritesThenAPulledEditAsItArrives() throws Exception {
        Outpost field = device("feed-field", "feed-watch"), office = device("feed-office", "feed-watch");
        field.run("put", "farmer", "f1", "name=Achieng Otieno", "village=Njoro").ok();
        field.run("put", "plot", "p1", "farmer_id=f1", "area_ha=0.75").ok();

        // Replay from the start: both local writes, in order, each with its row as get shows it.
        List<JsonNode> replay =
                lines(field.run("watch", "--after", "0", "--count", "2").ok().out());
        assertEquals(2, replay.size(), replay.toString());
        assertEquals(
                List.of("farmer", "plot"),
                replay.stream().map(n -> n.get("table").asText()).toList());
        assertTrue(replay.get(0).get("seq").asLong() < replay.get(1).get("seq").asLong(), "seqs grow");
        for (JsonNode e : replay) {
            assertEquals("local", e.get("origin").asText());
            assertFalse(e.get("deleted").asBoolean());
            assertEquals(
                    TestJson.parse(field.run(
                                    "get", e.get("table").asText(), e.get("id").asText())
                            .ok()
                            .out()),
                    e.get("row"));
        }
        long last = replay.get(1).get("seq").asLong();

        // A watcher for crop records only, started before the office's edit exists.
        java.nio.file.Path watched = dir.resolve("watch-out.txt");
        Process watch = new ProcessBuilder(
                        field.command("watch", "crop_record", "--after", Long.toString(last), "--count", "1"))
                .redirectOutput(watched.toFile())
                .start();
        try {
            field.run("sync").ok();
            office.run("sync").ok();
            office.run("put", "crop_record", "c9", "plot_id=p1", "crop=beans", "stage=1")
                    .ok();
            office.run("put", "farmer", "f1", "phone=+254700000009").ok();
            office.run("sync").ok();
            field.run("sync").ok();

            assertTrue(watch.waitFor(60, TimeUnit.SECONDS), "watch ends after --count changes");
            String printed = java.nio.file.Files.readString(watched);
            assertEquals(0, watch.exitValue());
            List<JsonNode> seen = lines(printed);
            assertEquals(1, seen.size(), printed);
            JsonNode crop = seen.getFirst();
            assertEquals("crop_record", crop.get("table").asText(), "the table filter holds back the farmer edit");
            assertEquals("c9", crop.get("id").asText());
            assertEquals("sync", crop.get("origin").asText());
            assertEquals(
                    TestJson.parse(field.run("get", "crop_record", "c9").ok().out()), crop.get("row"));
        } finally {
            watch.destroyForcibly();
        }

        Outpost.Result unknown = field.run("watch", "no_such_table", "--count", "1");
        assertEquals(2, unknown.exit(), unknown.err());
        assertTrue(unknown.err().contains("unknown table 'no_such_table'"), unknown.err());
    }

    @Test
    void anAppWaitingOnTheLocalApiSeesAnotherDevicesEditWithinOneSync() throws Exception {
        Outpost field = device("poll-field", "feed-poll"), office = device("poll-office", "feed-poll");
        Process run = new ProcessBuilder(field.command("run", "--port", "0", "--interval", "3600"))
                .redirectErrorStream(true)
                .start();
        try {
            BufferedReader out =
                    new BufferedReader(new InputStreamReader(run.getInputStream(), StandardCharsets.UTF_8));
            String banner = out.readLine();
            assertTrue(banner != null && banner.contains("serving on 127.0.0.1:"), "banner: " + banner);
            LocalApiClient api = new LocalApiClient(field.home, LocalApiClient.baseOf(banner));

            JsonNode now = TestJson.parse(api.get("/v1/changes").body());
            long head = now.get("last").asLong();
            assertEquals(0, now.get("changes").size(), "a new device has changed nothing");

            CompletableFuture<HttpResponse<String>> waiting = api.getAsync("/v1/changes?after=" + head + "&wait=60");
            office.run("put", "farmer", "f7", "name=Kiprono Langat", "village=Molo")
                    .ok();
            office.run("sync").ok();
            HttpResponse<String> sync = api.send("POST", "/v1/sync", null);
            assertEquals(200, sync.statusCode(), sync.body());

            HttpResponse<String> answer = waiting.get(60, TimeUnit.SECONDS);
            assertEquals(200, answer.statusCode(), answer.body());
            JsonNode page = TestJson.parse(answer.body());
            assertEquals(1, page.get("changes").size(), answer.body());
            JsonNode e = page.get("changes").get(0);
            assertEquals("farmer", e.get("table").asText());
            assertEquals("f7", e.get("id").asText());
            assertEquals("sync", e.get("origin").asText());
            assertEquals("Kiprono Langat", e.get("row").get("name").asText());
            assertEquals(e.get("seq").asLong(), page.get("last").asLong());
            assertFalse(page.get("reset").asBoolean());

            // A seq the feed never gave (a home restored from an older copy, say) is answered at once with a reset.
            JsonNode reset =
                    TestJson.parse(api.get("/v1/changes?after=999999&wait=60").body());
            assertTrue(reset.get("reset").asBoolean(), reset.toString());
            assertEquals(page.get("last").asLong(), reset.get("last").asLong(), "read again from the newest entry");

            HttpResponse<String> bad = api.get("/v1/changes?wait=3600");
            assertEquals(400, bad.statusCode(), bad.body());
            assertEquals(2, TestJson.number(bad.body(), "exitCode"));
        } finally {
            run.destroy();
            run.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
