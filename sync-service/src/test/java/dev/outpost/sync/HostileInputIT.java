package dev.outpost.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Generated hostile input against the real service: {@value #DEFAULT_REQUESTS} requests a run (set
 * {@code -Dfuzz.requests}), from a seed printed with any failure ({@code -Dfuzz.seed} replays it).
 * Every one must be answered 4xx with a problem JSON body (a truncated body may instead see the connection closed),
 * never 5xx, and the database must hold exactly what it held before.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class HostileInputIT {
    static final int DEFAULT_REQUESTS = 1000;

    @TestHTTPResource("/")
    URI base;

    @Inject
    Pool pool;

    @Test
    void everyGeneratedRequestIsRefusedCleanlyAndChangesNothing() throws Exception {
        long seed = Long.getLong("fuzz.seed", System.nanoTime());
        int requests = Integer.getInteger("fuzz.requests", DEFAULT_REQUESTS);
        TestDevice device = TestDevice.register("fuzz", "nakuru");
        HostileRequests generator = new HostileRequests(seed, device.id, device.token, "test-admin-token", 1_048_576);
        String before = DatabaseFingerprint.of(pool);
        Map<String, Integer> byKind = new TreeMap<>();
        Map<Integer, Integer> byStatus = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            HostileRequests.Raw r = generator.next();
            HostileRequests.Answer a = HostileRequests.send(base.getHost(), base.getPort(), r);
            byKind.merge(r.kind(), 1, Integer::sum);
            byStatus.merge(a.status(), 1, Integer::sum);
            String why = HostileRequests.judge(r, a);
            if (why != null && failures.size() < 10) {
                failures.add("#" + i + " " + why + ": " + r.describe() + " -> " + a.status() + " " + a.body());
            }
        }
        String after = DatabaseFingerprint.of(pool);
        String summary =
                "seed " + seed + " (replay with -Dfuzz.seed=" + seed + "), " + byKind + ", statuses " + byStatus;
        System.out.println("hostile input: " + requests + " requests, " + summary);
        assertTrue(failures.isEmpty(), summary + "\n" + String.join("\n", failures));
        assertEquals(before, after, "a refused request changed the database; " + summary);
    }
}
