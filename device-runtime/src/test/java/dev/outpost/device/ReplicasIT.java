package dev.outpost.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.model.S3Server;
import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.rollout.RolloutPolicy;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three service processes on one PostgreSQL behind a round-robin balancer that loses an answer now and then, as a
 * deployment with several replicas is: real {@code outpost} devices sync through it while replicas are SIGKILLed and
 * restarted. Nothing is lost or applied twice (counters are the sums of the acknowledged increments on the service
 * and on every device), every device ends with every row, server changes carry a clock per replica and order after
 * what the office saw, a revocation through one replica is refused by the others at once, and a delta job runs once.
 * Replay a failure with {@code -Doutpost.replicas.seed=SEED}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicasIT {
    private static final int REPLICAS = 3;
    private static final int DEVICES = 3;
    private static final int ROUNDS = Integer.getInteger("outpost.replicas.rounds", 12);
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final WireCodec CODEC = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);

    @TempDir
    static Path dir;

    private static EmbeddedPostgres pg;
    private static S3Server s3;
    private static final Service[] replicas = new Service[REPLICAS];
    private static final int[] ports = new int[REPLICAS];
    private static Map<String, String> env;

    @BeforeAll
    static void start() throws Exception {
        pg = EmbeddedPostgres.builder().start();
        env = new HashMap<>();
        env.put("QUARKUS_DATASOURCE_REACTIVE_URL", "postgresql://localhost:" + pg.getPort() + "/postgres");
        env.put("QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://localhost:" + pg.getPort() + "/postgres");
        env.put("QUARKUS_DATASOURCE_USERNAME", "postgres");
        env.put("QUARKUS_DATASOURCE_PASSWORD", "postgres");
        // One chunk store for all: a bucket of a real S3 API server, as production runs; credentials remembered for
        // long, so that only the replicas' notices can make a revocation effective at once.
        s3 = S3Server.start(dir.resolve("s3"));
        s3.createBucket("outpost");
        env.put("OUTPOST_ARTIFACTS_STORE", "s3");
        env.put("OUTPOST_ARTIFACTS_S3_BUCKET", "outpost");
        env.put("OUTPOST_ARTIFACTS_S3_ENDPOINT", s3.endpoint().toString());
        env.put("OUTPOST_ARTIFACTS_S3_PATH_STYLE", "true");
        env.put("OUTPOST_ARTIFACTS_S3_ACCESS_KEY_ID", S3Server.ACCESS_KEY);
        env.put("OUTPOST_ARTIFACTS_S3_SECRET_ACCESS_KEY", S3Server.SECRET_KEY);
        env.put("OUTPOST_AUTH_CREDENTIAL_CACHE_TTL", "PT10M");
        // Every replica looks at soaking rollouts five times a second: they would trip over each other if they could.
        env.put("OUTPOST_ROLLOUTS_EVALUATE_EVERY", "PT0.2S");
        for (int i = 0; i < REPLICAS; i++) {
            ports[i] = Service.freePort();
            replicas[i] = Service.start(dir.resolve("replica-" + i), ports[i], env);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        for (Service s : replicas) {
            if (s != null) {
                s.close();
            }
        }
        if (pg != null) {
            pg.close();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    @Order(1)
    void devicesSyncingThroughReplicasThatDieLoseAndDoubleNothing() throws Exception {
        long seed = Long.getLong("outpost.replicas.seed", System.nanoTime());
        List<Outpost> devices = new ArrayList<>();
        try (RoundRobinProxy balancer = new RoundRobinProxy(List.of(ports[0], ports[1], ports[2]), 7)) {
            for (int d = 0; d < DEVICES; d++) {
                String id = "officer-" + d;
                Outpost device = new Outpost(dir.resolve(id));
                device.run(
                                "init",
                                "--server",
                                balancer.url(),
                                "--device-id",
                                id,
                                "--token",
                                replicas[0].register(id, "nakuru"))
                        .ok();
                devices.add(device);
            }
            // Every counter increment a device acknowledged to its user, by row, and each device's last farmer names.
            Map<String, Long> acknowledged = new ConcurrentHashMap<>();
            Map<String, String> named = new ConcurrentHashMap<>();
            AtomicInteger syncs = new AtomicInteger();
            AtomicInteger cutOff = new AtomicInteger();
            List<String> failures = new CopyOnWriteArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(DEVICES);
            List<Future<?>> running = new ArrayList<>();
            for (int d = 0; d < DEVICES; d++) {
                Outpost device = devices.get(d);
                Random random = new Random(seed + d);
                int me = d;
                running.add(pool.submit(() -> {
                    for (int round = 0; round < ROUNDS; round++) {
                        try (OutpostDevice lib = OutpostDevice.open(device.home)) {
                            for (int i = 0; i < 20 + random.nextInt(40); i++) {
                                String row = "c" + random.nextInt(12); // rows every device increments
                                int n = 1 + random.nextInt(5);
                                lib.rows().add("crop_record", row, "bags_harvested", n);
                                acknowledged.merge(row, (long) n, Long::sum);
                                String farmer = "f" + me + "-" + random.nextInt(30);
                                String name = "name " + round + "/" + i;
                                lib.rows().put("farmer", farmer, Map.of("name", name));
                                named.put(farmer, name);
                            }
                        }
                        Outpost.Result r = device.run("sync");
                        syncs.incrementAndGet();
                        if (r.exit() == 3) {
                            cutOff.incrementAndGet(); // a replica died or an answer was lost: the next sync resumes
                        } else if (r.exit() != 0) {
                            failures.add(device.home.getFileName() + ": exit " + r.exit() + " " + r.err());
                        }
                    }
                    return null;
                }));
            }
            // Kill each replica in turn while the devices sync, and bring it back after the devices synced on.
            for (int victim = 0; victim < REPLICAS; victim++) {
                awaitSyncs(syncs, 2 + 2 * victim * DEVICES, running);
                replicas[victim].kill();
                awaitSyncs(syncs, syncs.get() + DEVICES, running);
                replicas[victim] = Service.start(dir.resolve("replica-" + victim), ports[victim], env);
            }
            for (Future<?> f : running) {
                f.get(10, TimeUnit.MINUTES);
            }
            pool.shutdown();
            assertEquals(List.of(), failures, "seed " + seed);

            // Quiet: every device syncs twice, so each has what the others pushed in their last syncs.
            for (int pass = 0; pass < 2; pass++) {
                for (Outpost device : devices) {
                    Outpost.Result r = device.run("sync");
                    if (r.exit() == 3) {
                        r = device.run("sync"); // this one's answer was lost by the balancer
                    }
                    assertEquals(0, r.exit(), "seed " + seed + ": " + r.err());
                }
            }
            assertTrue(balancer.answersLost.get() > 0, "the balancer lost no answer: nothing was retried");
            for (int i = 0; i < REPLICAS; i++) {
                assertTrue(balancer.connectionsTo.get(i) > 0, "replica " + i + " served no device");
            }

            Map<String, Long> serviceCounters = query("select id, bags_harvested from outpost_data.crop_record");
            assertEquals(
                    new TreeMap<>(acknowledged),
                    serviceCounters,
                    "seed " + seed + ": the service's counters are not the sums of the acknowledged increments");
            Map<String, String> serviceNames = new TreeMap<>();
            try (Connection c = office();
                    ResultSet rs = c.createStatement().executeQuery("select id, name from outpost_data.farmer")) {
                while (rs.next()) {
                    serviceNames.put(rs.getString(1), rs.getString(2));
                }
            }
            assertEquals(new TreeMap<>(named), serviceNames, "seed " + seed + ": the farmers' last names");
            for (Outpost device : devices) {
                assertEquals(
                        0, TestJson.number(device.run("status", "--json").ok().out(), "pending"));
                try (OutpostDevice lib = OutpostDevice.open(device.home)) {
                    Map<String, Long> counters = new TreeMap<>();
                    for (var row : lib.rows().query("select id, bags_harvested from crop_record", List.of())) {
                        counters.put((String) row.get("id"), ((Number) row.get("bags_harvested")).longValue());
                    }
                    assertEquals(serviceCounters, counters, "seed " + seed + ": counters on " + device.home);
                    Map<String, String> names = new TreeMap<>();
                    for (var row : lib.rows().query("select id, name from farmer", List.of())) {
                        names.put((String) row.get("id"), (String) row.get("name"));
                    }
                    assertEquals(serviceNames, names, "seed " + seed + ": farmers on " + device.home);
                }
            }
        }
    }

    /** Waits (bounded) until the devices have run {@code n} syncs in all, or all of them finished. */
    private static void awaitSyncs(AtomicInteger syncs, int n, List<Future<?>> running) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (syncs.get() < n && running.stream().anyMatch(f -> !f.isDone())) {
            assertTrue(System.nanoTime() < deadline, "devices stopped syncing: " + syncs.get() + " of " + n);
            Thread.sleep(50); // polling a condition, not timing anything
        }
    }

    @Test
    @Order(2)
    void officeWritesCarryOneClockPerReplicaAndWinOverWhatTheyOverride() throws Exception {
        String token = replicas[0].register("ahead-officer", "nakuru");
        // A device whose clock runs two minutes ahead (within the allowed skew) writes through replica 0 ...
        long ahead = System.currentTimeMillis() + 120_000;
        List<Change> changes = new ArrayList<>();
        for (int i = 0; i < REPLICAS; i++) {
            changes.add(new Change(
                    "farmer",
                    "ahead-" + i,
                    "nakuru",
                    "name",
                    new Op.Assign(new FieldValue.Text("from the field")),
                    new Hlc(ahead, i, "ahead-officer")));
        }
        HttpResponse<byte[]> pushed =
                sync(replicas[0], token, new SyncRequest("ahead-officer", 1, "ahead-1", null, 1, changes));
        assertEquals(200, pushed.statusCode(), new String(pushed.body()));
        // ... and the office corrects each row through another replica, whose own clock never saw that write.
        Set<String> nodes = new HashSet<>();
        for (int i = 0; i < REPLICAS; i++) {
            Service via = replicas[(i + 1) % REPLICAS];
            HttpResponse<String> r = via.admin("PATCH", "/v1/admin/data/farmer/ahead-" + i, "{\"name\": \"office\"}");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode name = TestJson.parse(r.body()).get("fields").get("name");
            assertEquals("office", name.get("value").asText(), "the office's correction wins: " + r.body());
            Hlc clock = Hlc.parse(name.get("clock").asText());
            assertTrue(clock.physicalMs() >= ahead, "the correction orders after the write it overrides: " + clock);
            nodes.add(name.get("device").asText());
        }
        assertEquals(REPLICAS, nodes.size(), "each replica stamps with its own node id: " + nodes);
        assertTrue(nodes.stream().allMatch(n -> n.startsWith("server.")), nodes.toString());
    }

    @Test
    @Order(3)
    void aRevocationThroughOneReplicaIsRefusedByTheOthersAtOnce() throws Exception {
        String token = replicas[0].register("revoked-officer", "nakuru");
        for (Service r : replicas) {
            // Each replica now remembers the credential (for ten minutes, as configured above).
            assertEquals(200, sync(r, token, emptySync("revoked-officer")).statusCode());
        }
        HttpResponse<String> revoked = replicas[0].admin("DELETE", "/v1/admin/devices/revoked-officer", "");
        assertEquals(200, revoked.statusCode(), revoked.body());
        long start = System.nanoTime();
        for (int i = 1; i < REPLICAS; i++) {
            int status;
            do {
                status = sync(replicas[i], token, emptySync("revoked-officer")).statusCode();
                assertTrue(
                        System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5),
                        "replica " + i + " still accepts the revoked credential after 5 s");
            } while (status == 200);
            assertEquals(401, status);
        }
    }

    @Test
    @Order(4)
    void deltasArePreparedOnceHoweverManyReplicasAreAsked() throws Exception {
        Random random = new Random(7);
        byte[] v1 = new byte[24 << 20];
        random.nextBytes(v1);
        byte[] v2 = v1.clone();
        for (int i = 0; i < v2.length; i += 4096) {
            v2[i] ^= 1; // every chunk changes a little
        }
        Path f1 = Files.write(dir.resolve("model-v1.bin"), v1);
        Path f2 = Files.write(dir.resolve("model-v2.bin"), v2);
        replicas[0].upload("model", 1, f1);
        replicas[0].upload("model", 2, f2);
        replicas[0].desire("model", 1);
        String token = replicas[0].register("model-officer", "nakuru");
        double before = 0;
        for (Service r : replicas) {
            before += r.metric("outpost_artifacts_delta_jobs_total");
        }
        // Desiring v2 starts its deltas on replica 1; devices ask every replica for them at the same moment.
        replicas[1].desire("model", 2);
        ExecutorService pool = Executors.newFixedThreadPool(REPLICAS);
        List<Future<HttpResponse<byte[]>>> asked = new ArrayList<>();
        for (Service r : replicas) {
            asked.add(pool.submit(() -> HTTP.send(
                    HttpRequest.newBuilder(URI.create(r.url + "/v1/artifacts/model/deltas?from=1&to=2"))
                            .header("Authorization", "Bearer " + token)
                            .build(),
                    HttpResponse.BodyHandlers.ofByteArray())));
        }
        byte[] first = null;
        for (Future<HttpResponse<byte[]>> f : asked) {
            HttpResponse<byte[]> r = f.get(5, TimeUnit.MINUTES);
            assertEquals(200, r.statusCode(), new String(r.body()));
            if (first == null) {
                first = r.body();
            } else {
                assertTrue(java.util.Arrays.equals(first, r.body()), "every replica serves the same delta index");
            }
        }
        pool.shutdown();
        double after = 0;
        for (Service r : replicas) {
            after += r.metric("outpost_artifacts_delta_jobs_total");
        }
        assertEquals(1.0, after - before, "delta jobs run across the replicas for one version pair");
    }

    @Test
    @Order(5)
    void aDeviceInstallsThroughEveryReplicaFromTheSharedBucket() throws Exception {
        // The versions of the test before: v2 changes every chunk a little, so the update is all deltas.
        Path v1 = dir.resolve("model-v1.bin");
        Path v2 = dir.resolve("model-v2.bin");
        replicas[2].desire("model", 1);
        try (RoundRobinProxy balancer = new RoundRobinProxy(List.of(ports[0], ports[1], ports[2]), 0)) {
            Outpost device = new Outpost(dir.resolve("bucket-officer"));
            replicas[1].initTrusting(device, "bucket-officer", balancer.url()).ok();
            String first = device.run("model", "update", "model").ok().out();
            assertTrue(first.contains("installed model version 1 (from nothing)"), first);
            ModelUpdateIT.assertActive(device, "model", v1);
            replicas[0].desire("model", 2);
            String second = device.run("model", "update", "model").ok().out();
            assertTrue(second.contains("installed model version 2 (from version 1)"), second);
            ModelUpdateIT.assertActive(device, "model", v2);
        }
        for (int i = 0; i < REPLICAS; i++) {
            Path local = dir.resolve("replica-" + i).resolve("artifacts");
            if (Files.exists(local)) {
                try (var files = Files.walk(local)) {
                    assertEquals(
                            List.of(),
                            files.filter(f -> f.toString().contains("chunks")
                                            || f.toString().contains("deltas"))
                                    .toList(),
                            "replica " + i + " keeps no blob of its own");
                }
            }
        }
        Path chunk;
        try (var objects = Files.walk(s3.data().resolve("outpost").resolve("chunks"))) {
            chunk = objects.filter(Files::isRegularFile).findFirst().orElseThrow();
        }
        try (var objects = Files.walk(s3.data().resolve("outpost").resolve("deltas"))) {
            assertTrue(objects.anyMatch(Files::isRegularFile), "deltas are in the bucket");
        }
        // The bucket out of reach: the chunk is not "not found" but unavailable, and serves again once it is back.
        String token = replicas[0].register("bucket-reader", "nakuru");
        URI chunkUri = URI.create(replicas[2].url + "/v1/chunks/" + chunk.getFileName());
        s3.stop();
        try {
            HttpResponse<byte[]> down = HTTP.send(
                    HttpRequest.newBuilder(chunkUri)
                            .header("Authorization", "Bearer " + token)
                            .header("Range", "bytes=0-99")
                            .build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(503, down.statusCode());
            assertEquals(
                    "unavailable",
                    TestJson.parse(new String(down.body())).get("code").asText());
        } finally {
            s3.restart();
        }
        HttpResponse<byte[]> up = HTTP.send(
                HttpRequest.newBuilder(chunkUri)
                        .header("Authorization", "Bearer " + token)
                        .header("Range", "bytes=0-99")
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(206, up.statusCode());
        assertTrue(java.util.Arrays.equals(java.util.Arrays.copyOf(Files.readAllBytes(chunk), 100), up.body()));
    }

    @Test
    @Order(6)
    void aWaveIsPromotedOnceThoughEveryReplicaLooksAtTheRollout() throws Exception {
        Random random = new Random(11);
        byte[] v1 = new byte[1 << 20];
        random.nextBytes(v1);
        byte[] v2 = v1.clone();
        v2[0] ^= 1;
        replicas[0].upload("waves", 1, Files.write(dir.resolve("waves-v1.bin"), v1));
        replicas[0].upload("waves", 2, Files.write(dir.resolve("waves-v2.bin"), v2));
        replicas[0].desire("waves", 1);
        RolloutPolicy policy = new RolloutPolicy(List.of(50.0, 100.0), 1.0, 1, Duration.ofSeconds(2), 0.5, 5);
        Map<String, String> tokens = new TreeMap<>();
        for (int i = 0; i < 8; i++) {
            tokens.put("waves-" + i, replicas[i % REPLICAS].register("waves-" + i, "waves"));
        }
        List<String> firstWave =
                tokens.keySet().stream().filter(id -> policy.waveOf(id) == 0).toList();
        assertTrue(!firstWave.isEmpty() && firstWave.size() < tokens.size(), "both waves have devices");

        JsonNode created = TestJson.parse(admin(
                replicas[0],
                "/v1/admin/rollouts",
                "{\"artifact\": \"waves\", \"version\": 2, \"scopes\": [\"waves\"], \"waves\": [50, 100],"
                        + " \"successHealthyShare\": 1.0, \"successMinReports\": 1, \"autoPromoteAfter\": \"PT2S\","
                        + " \"errorFailureShare\": 0.5, \"errorMinReports\": 5}",
                201));
        long id = created.get("id").asLong();
        admin(replicas[1], "/v1/admin/rollouts/" + id + "/start", "", 200);
        double[] looksBefore = looks();
        int n = 0;
        for (String device : firstWave) {
            // Each report through another replica: each replica evaluates the rollout on a report too.
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(replicas[n++ % REPLICAS].url + "/v1/device/model-reports"))
                            .header("Authorization", "Bearer " + tokens.get(device))
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"artifact\": \"waves\", \"fromVersion\": 1,"
                                    + " \"toVersion\": 2, \"activeVersion\": 2, \"outcome\": \"installed\","
                                    + " \"bytesDownloaded\": 1000}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(204, r.statusCode(), r.body());
        }
        // The soak ends by the replicas' timers; then every replica keeps looking for a while longer.
        JsonNode status = awaitRollout(id, s -> s.get("openWaves").asInt() == 2);
        double[] looksAtAdvance = looks();
        awaitLooks(looksAtAdvance, 10);
        status = TestJson.parse(adminGet(replicas[2], "/v1/admin/rollouts/" + id));
        List<String> actions = new ArrayList<>();
        status.get("events").forEach(e -> actions.add(e.get("action").asText()));
        assertEquals(List.of("create", "start", "wave-healthy", "advance"), actions, status.toString());
        double[] after = looks();
        for (int i = 0; i < REPLICAS; i++) {
            assertTrue(after[i] > looksBefore[i], "replica " + i + " looked at the rollout too");
        }
    }

    /** Looks at soaking rollouts each replica made so far. */
    private static double[] looks() throws Exception {
        double[] looks = new double[REPLICAS];
        for (int i = 0; i < REPLICAS; i++) {
            looks[i] = replicas[i].metric("outpost_rollouts_evaluations_total");
        }
        return looks;
    }

    /** Until every replica has looked {@code more} more times than {@code since}. */
    private static void awaitLooks(double[] since, int more) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            double[] now = looks();
            boolean all = true;
            for (int i = 0; i < REPLICAS; i++) {
                all &= now[i] >= since[i] + more;
            }
            if (all) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "the replicas stopped looking: " + java.util.Arrays.toString(now));
            Thread.sleep(100);
        }
    }

    private static JsonNode awaitRollout(long id, java.util.function.Predicate<JsonNode> done) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            JsonNode s = TestJson.parse(adminGet(replicas[2], "/v1/admin/rollouts/" + id));
            if (done.test(s)) {
                return s;
            }
            assertTrue(System.nanoTime() < deadline, "rollout " + id + " stayed " + s);
            Thread.sleep(100);
        }
    }

    private static String admin(Service via, String path, String json, int expected) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(via.url + path))
                        .header("Authorization", "Bearer " + Service.ADMIN)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(json))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(expected, r.statusCode(), r.body());
        return r.body();
    }

    private static String adminGet(Service via, String path) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(via.url + path))
                        .header("Authorization", "Bearer " + Service.ADMIN)
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static SyncRequest emptySync(String deviceId) {
        return new SyncRequest(deviceId, 1, null, null, 1, List.of());
    }

    private static HttpResponse<byte[]> sync(Service via, String token, SyncRequest request) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create(via.url + "/v1/sync"))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", WireFormat.BINARY.mediaType())
                        .header("Accept", WireFormat.BINARY.mediaType())
                        .POST(HttpRequest.BodyPublishers.ofByteArray(CODEC.encode(request, WireFormat.BINARY)))
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    private static Connection office() throws Exception {
        return DriverManager.getConnection(
                "jdbc:postgresql://localhost:" + pg.getPort() + "/postgres", "postgres", "postgres");
    }

    private static Map<String, Long> query(String sql) throws Exception {
        Map<String, Long> out = new TreeMap<>();
        try (Connection c = office();
                ResultSet rs = c.createStatement().executeQuery(sql)) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getLong(2));
            }
        }
        return out;
    }
}
