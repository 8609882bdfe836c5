package dev.outpost.sync;

import static io.restassured.RestAssured.given;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.SyncResponse;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;
import dev.outpost.model.wire.WireLimits;
import io.restassured.response.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A simulated device speaking the real protocol over HTTP, for the service's integration tests. */
final class TestDevice {
    static final String ADMIN = "Bearer test-admin-token";
    static final WireCodec CODEC = new WireCodec(SchemaLoader.farmExample(), WireLimits.DEFAULT);

    final String id;
    final String token;
    final HybridClock clock;
    String cursor;

    private TestDevice(String id, String token) {
        this.id = id;
        this.token = token;
        this.clock = new HybridClock(id, System::currentTimeMillis, null);
    }

    /** Registers a device with a unique id (tests share one database) and the given scopes. */
    static TestDevice register(String prefix, String... scopes) {
        return registerAs(prefix + "-" + UUID.randomUUID().toString().substring(0, 8), scopes);
    }

    /** Registers a device under exactly {@code id}. */
    static TestDevice registerAs(String id, String... scopes) {
        Map<String, Object> body = Map.of("deviceId", id, "scopes", List.of(scopes));
        String token = given().header("Authorization", ADMIN)
                .contentType("application/json")
                .body(body)
                .post("/v1/admin/devices")
                .then()
                .statusCode(201)
                .extract()
                .path("token");
        return new TestDevice(id, token);
    }

    Change assign(String table, String row, String scope, String field, FieldValue value) {
        return new Change(table, row, scope, field, new Op.Assign(value), clock.now());
    }

    Change assign(String table, String row, String scope, String field, FieldValue value, Hlc replaces) {
        return new Change(table, row, scope, field, new Op.Assign(value, List.of(replaces)), clock.now());
    }

    /** POSTs a sync request in the given format and returns the raw answer. */
    Response post(SyncRequest request, WireFormat format) {
        return given().header("Authorization", "Bearer " + token)
                .contentType(format.mediaType())
                .accept(format.mediaType())
                .body(CODEC.encode(request, format))
                .post("/v1/sync");
    }

    SyncResponse sync(String batchId, List<Change> changes, WireFormat format) {
        Response r = post(new SyncRequest(id, 1, batchId, cursor, 0, changes), format);
        if (r.statusCode() != 200) {
            throw new AssertionError("sync answered " + r.statusCode() + ": " + r.asString());
        }
        SyncResponse response = CODEC.decodeResponse(r.asByteArray(), format);
        cursor = response.cursor();
        return response;
    }

    SyncResponse push(List<Change> changes) {
        return sync("b-" + UUID.randomUUID(), changes, WireFormat.BINARY);
    }

    /** Pulls every page; returns all changes received. */
    List<Change> pullAll() {
        List<Change> all = new ArrayList<>();
        SyncResponse r;
        do {
            r = sync(null, List.of(), WireFormat.BINARY);
            all.addAll(r.changes());
        } while (r.more());
        return all;
    }
}
