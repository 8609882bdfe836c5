package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.FieldValue;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Operators as themselves (docs/SECURITY.md, "Operators and roles"), against the real service and PostgreSQL: API
 * tokens stored hashed, OIDC tokens verified against a JWKS this test makes (signed here with its own RSA key), each
 * role kept to what it may do, a supervisor kept to their scopes for reads, writes and resolutions, and the audit
 * trail naming the identity that proved itself for every change, nothing for a refusal.
 */
@QuarkusTest
@TestProfile(OperatorsIT.WithIdentityProvider.class)
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class OperatorsIT {
    static final String ISSUER = "https://idp.test/realms/outpost";
    static final KeyPair IDP = shared("operators-it.idp-key");
    static final KeyPair STRANGER = rsa();

    public static class WithIdentityProvider implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "mp.jwt.verify.publickey.location",
                    jwks(IDP).toUri().toString(),
                    "mp.jwt.verify.issuer",
                    ISSUER,
                    "mp.jwt.verify.audiences",
                    "outpost");
        }
    }

    @Inject
    Pool pool;

    /**
     * One key pair for the whole JVM: Quarkus loads this class twice (for the profile, and for the test), and both must
     * hold the identity provider's one key. System properties are what both class loaders share.
     */
    private static KeyPair shared(String property) {
        try {
            var factory = java.security.KeyFactory.getInstance("RSA");
            synchronized (System.class) {
                String kept = System.getProperty(property);
                if (kept == null) {
                    KeyPair made = rsa();
                    kept = Base64.getEncoder().encodeToString(made.getPrivate().getEncoded()) + ","
                            + Base64.getEncoder()
                                    .encodeToString(made.getPublic().getEncoded());
                    System.setProperty(property, kept);
                }
                String[] parts = kept.split(",");
                return new KeyPair(
                        factory.generatePublic(new java.security.spec.X509EncodedKeySpec(
                                Base64.getDecoder().decode(parts[1]))),
                        factory.generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(
                                Base64.getDecoder().decode(parts[0]))));
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static KeyPair rsa() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String b64(byte[] b) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private static String unsigned(BigInteger n) {
        byte[] b = n.toByteArray();
        return b64(b[0] == 0 ? java.util.Arrays.copyOfRange(b, 1, b.length) : b);
    }

    /** The identity provider's JWKS, as a file the service reads. */
    static Path jwks(KeyPair idp) {
        RSAPublicKey k = (RSAPublicKey) idp.getPublic();
        String json = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"idp-1\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\""
                + unsigned(k.getModulus()) + "\",\"e\":\"" + unsigned(k.getPublicExponent()) + "\"}]}";
        try {
            Path file = Files.createTempFile("outpost-jwks", ".json");
            Files.writeString(file, json);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An RS256 token as an identity provider issues one, signed with {@code key}. */
    static String jwt(KeyPair key, String issuer, String subject, long expiresInSeconds) {
        long now = System.currentTimeMillis() / 1000;
        String header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"idp-1\"}";
        String payload = "{\"iss\":\"" + issuer + "\",\"sub\":\"" + subject + "\",\"aud\":\"outpost\",\"iat\":"
                + (now - 10) + ",\"exp\":" + (now + expiresInSeconds) + ",\"jti\":\"" + UUID.randomUUID() + "\"}";
        String signingInput =
                b64(header.getBytes(StandardCharsets.UTF_8)) + "." + b64(payload.getBytes(StandardCharsets.UTF_8));
        try {
            Signature s = Signature.getInstance("SHA256withRSA");
            s.initSign(key.getPrivate());
            s.update(signingInput.getBytes(StandardCharsets.US_ASCII));
            return signingInput + "." + b64(s.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Response as(String token, String method, String path, String json) {
        var r = given().header("Authorization", "Bearer " + token);
        if (json != null) {
            r = r.contentType("application/json").body(json);
        }
        return r.request(method, path);
    }

    private static String breakGlass() {
        return TestDevice.ADMIN.substring("Bearer ".length());
    }

    private static void createOperator(String json) {
        Response r = as(breakGlass(), "POST", "/v1/admin/operators", json);
        assertEquals(201, r.statusCode(), r.asString());
    }

    private static String tokenFor(String name) {
        Response r = as(breakGlass(), "POST", "/v1/admin/operators/" + name + "/tokens", "{}");
        assertEquals(201, r.statusCode(), r.asString());
        return r.jsonPath().getString("token");
    }

    private static void refused(Response r, int status, String code) {
        assertEquals(status, r.statusCode(), r.asString());
        assertEquals(code, r.jsonPath().getString("code"), r.asString());
    }

    @Test
    void eachOperatorProvesWhoTheyAreDoesWhatTheirRoleAllowsAndIsNamedInTheAuditTrail() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 6);
        String ada = "ada-" + run;
        String vera = "vera-" + run;
        String sam = "sam-" + run;
        String rita = "rita-" + run;
        String home = "nakuru-" + run;
        String away = "molo-" + run;

        JsonPath me = as(breakGlass(), "GET", "/v1/admin/whoami", null).jsonPath();
        assertEquals("break-glass", me.getString("name"));
        assertEquals("admin", me.getString("role"));

        createOperator("{\"name\":\"" + ada + "\",\"role\":\"admin\",\"oidcSubject\":\"sub-" + ada + "\"}");
        createOperator("{\"name\":\"" + vera + "\",\"role\":\"viewer\"}");
        createOperator("{\"name\":\"" + sam + "\",\"role\":\"supervisor\",\"scopes\":[\"" + home + "\"]}");
        createOperator("{\"name\":\"" + rita + "\",\"role\":\"release-manager\"}");
        refused(
                as(breakGlass(), "POST", "/v1/admin/operators", "{\"name\":\"" + vera + "\",\"role\":\"viewer\"}"),
                409,
                "already-exists");
        refused(
                as(breakGlass(), "POST", "/v1/admin/operators", "{\"name\":\"x-" + run + "\",\"role\":\"supervisor\"}"),
                400,
                "malformed-payload");
        refused(
                as(breakGlass(), "POST", "/v1/admin/operators", "{\"name\":\"y-" + run + "\",\"role\":\"root\"}"),
                400,
                "malformed-payload");

        String veraToken = tokenFor(vera);
        String samToken = tokenFor(sam);
        String ritaToken = tokenFor(rita);
        // Only the SHA-256 of a token is stored, nowhere the token itself.
        String hash = HexFormat.of()
                .formatHex(java.security.MessageDigest.getInstance("SHA-256")
                        .digest(veraToken.getBytes(StandardCharsets.UTF_8)));
        assertEquals(1, Sql.count(pool, "select count(*) from operator_token where hash = '\\x" + hash + "'::bytea"));
        assertEquals(
                0,
                Sql.count(
                        pool,
                        "select count(*) from operator_token t join operator o on o.name = t.operator"
                                + " where position('" + veraToken + "' in t::text || o::text) > 0"));

        // A viewer reads and changes nothing; nor does it manage operators.
        assertEquals(200, as(veraToken, "GET", "/v1/admin/devices", null).statusCode());
        refused(
                as(
                        veraToken,
                        "POST",
                        "/v1/admin/devices",
                        "{\"deviceId\":\"v-" + run + "\",\"scopes\":[\"" + home + "\"]}"),
                403,
                "not-permitted");
        refused(as(veraToken, "GET", "/v1/admin/operators", null), 403, "not-permitted");
        assertEquals(
                vera, as(veraToken, "GET", "/v1/admin/whoami", null).jsonPath().getString("name"));

        // A release manager ships models and registers no device.
        String artifact = "ops-" + run;
        refused(
                given().header("Authorization", "Bearer " + veraToken)
                        .body(new byte[4096])
                        .put("/v1/admin/artifacts/" + artifact + "/versions/1"),
                403,
                "not-permitted");
        Response uploaded = given().header("Authorization", "Bearer " + ritaToken)
                .body(new byte[4096])
                .put("/v1/admin/artifacts/" + artifact + "/versions/1");
        assertEquals(201, uploaded.statusCode(), uploaded.asString());
        assertEquals(
                200,
                as(ritaToken, "POST", "/v1/admin/artifacts/" + artifact + "/desired", "{\"version\":1}")
                        .statusCode());
        refused(
                as(
                        ritaToken,
                        "POST",
                        "/v1/admin/devices",
                        "{\"deviceId\":\"r-" + run + "\",\"scopes\":[\"" + home + "\"]}"),
                403,
                "not-permitted");

        // A supervisor edits data and resolves conflicts of their scope only; reads are kept to it too.
        Response mine = as(
                samToken,
                "PUT",
                "/v1/admin/data/farmer/f-" + run,
                "{\"district\":\"" + home + "\",\"name\":\"Wanjiru\"}");
        assertEquals(200, mine.statusCode(), mine.asString());
        refused(
                as(samToken, "PUT", "/v1/admin/data/farmer/g-" + run, "{\"district\":\"" + away + "\",\"name\":\"X\"}"),
                403,
                "out-of-scope");
        assertEquals(
                404,
                as(breakGlass(), "GET", "/v1/admin/data/farmer/g-" + run, null).statusCode(),
                "a refused write leaves nothing");
        assertEquals(
                200,
                as(
                                breakGlass(),
                                "PUT",
                                "/v1/admin/data/farmer/h-" + run,
                                "{\"district\":\"" + away + "\",\"name\":\"Achieng\"}")
                        .statusCode());
        refused(as(samToken, "GET", "/v1/admin/data/farmer/h-" + run, null), 403, "out-of-scope");
        List<String> seen = as(samToken, "GET", "/v1/admin/data/farmer?limit=10000", null)
                .jsonPath()
                .getList("id");
        assertTrue(seen.contains("f-" + run), seen.toString());
        assertFalse(seen.stream().anyMatch(id -> id.equals("h-" + run)), "a supervisor lists their scopes only");
        List<String> all = as(veraToken, "GET", "/v1/admin/data/farmer?limit=10000", null)
                .jsonPath()
                .getList("id");
        assertTrue(all.contains("h-" + run), "a viewer reads every scope");

        long inAway = conflict(away, "c-away-" + run);
        long inHome = conflict(home, "c-home-" + run);
        refused(
                as(samToken, "POST", "/v1/admin/conflicts/" + inAway + "/resolve", "{\"value\":1300}"),
                403,
                "out-of-scope");
        refused(as(samToken, "GET", "/v1/admin/conflicts?scope=" + away, null), 403, "out-of-scope");
        List<Long> listed = as(samToken, "GET", "/v1/admin/conflicts?status=all&limit=1000", null)
                .jsonPath()
                .getList("id", Long.class);
        assertTrue(listed.contains(inHome) && !listed.contains(inAway), listed.toString());
        Response resolved = as(samToken, "POST", "/v1/admin/conflicts/" + inHome + "/resolve", "{\"value\":1300}");
        assertEquals(200, resolved.statusCode(), resolved.asString());
        assertEquals(sam, resolved.jsonPath().getString("resolvedBy"));

        // OIDC: a token the identity provider signed, for a bound subject, is that operator.
        String adaJwt = jwt(IDP, ISSUER, "sub-" + ada, 300);
        Response adaWho = as(adaJwt, "GET", "/v1/admin/whoami", null);
        assertEquals(200, adaWho.statusCode(), adaWho.asString());
        JsonPath adaMe = adaWho.jsonPath();
        assertEquals(ada, adaMe.getString("name"));
        assertEquals("oidc", adaMe.getString("via"));
        Response registered = as(
                adaJwt, "POST", "/v1/admin/devices", "{\"deviceId\":\"a-" + run + "\",\"scopes\":[\"" + home + "\"]}");
        assertEquals(201, registered.statusCode(), registered.asString());
        refused(as(jwt(STRANGER, ISSUER, "sub-" + ada, 300), "GET", "/v1/admin/whoami", null), 401, "unauthenticated");
        refused(as(jwt(IDP, ISSUER, "sub-" + ada, -120), "GET", "/v1/admin/whoami", null), 401, "unauthenticated");
        refused(
                as(jwt(IDP, "https://elsewhere.test", "sub-" + ada, 300), "GET", "/v1/admin/whoami", null),
                401,
                "unauthenticated");
        refused(as(jwt(IDP, ISSUER, "sub-nobody-" + run, 300), "GET", "/v1/admin/whoami", null), 403, "not-permitted");

        // The audit trail: each change by the identity that made it, and how it proved itself; refusals are not there.
        List<Map<String, Object>> trail =
                as(adaJwt, "GET", "/v1/admin/audit?limit=1000", null).jsonPath().getList("$");
        assertTrue(has(trail, rita, "api-token", "PUT", "/v1/admin/artifacts/" + artifact + "/versions/1"), "upload");
        assertTrue(has(trail, rita, "api-token", "POST", "/v1/admin/artifacts/" + artifact + "/desired"), "desired");
        assertTrue(has(trail, sam, "api-token", "PUT", "/v1/admin/data/farmer/f-" + run), "data edit");
        assertTrue(has(trail, sam, "api-token", "POST", "/v1/admin/conflicts/" + inHome + "/resolve"), "resolution");
        assertTrue(has(trail, ada, "oidc", "POST", "/v1/admin/devices"), "registration");
        assertTrue(has(trail, "break-glass", "break-glass", "POST", "/v1/admin/operators"), "operator created");
        assertFalse(
                trail.stream().anyMatch(e -> e.get("path").equals("/v1/admin/data/farmer/g-" + run)),
                "a refused write is no event");
        assertFalse(trail.stream().anyMatch(e -> vera.equals(e.get("actor"))), "the viewer changed nothing");

        // A disabled operator's token opens nothing any more.
        assertEquals(
                200,
                as(breakGlass(), "POST", "/v1/admin/operators/" + vera + "/disable", null)
                        .statusCode());
        assertEquals(401, as(veraToken, "GET", "/v1/admin/whoami", null).statusCode());
        refused(as("opo_not-a-token", "GET", "/v1/admin/whoami", null), 401, "unauthenticated");
    }

    private static boolean has(List<Map<String, Object>> trail, String actor, String via, String method, String path) {
        return trail.stream()
                .anyMatch(e -> actor.equals(e.get("actor"))
                        && via.equals(e.get("via"))
                        && method.equals(e.get("method"))
                        && path.equals(e.get("path")));
    }

    /** Two devices of {@code scope} write one review field of one crop record: an open conflict. */
    private static long conflict(String scope, String crop) {
        TestDevice a = TestDevice.register("ca", scope);
        TestDevice b = TestDevice.register("cb", scope);
        a.push(List.of(
                a.assign("crop_record", crop, scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("1200")))));
        b.push(List.of(
                b.assign("crop_record", crop, scope, "yield_kg", new FieldValue.Decimal(new BigDecimal("1350")))));
        return ((Number) given().header("Authorization", TestDevice.ADMIN)
                        .get("/v1/admin/conflicts?status=open&scope=" + scope)
                        .then()
                        .statusCode(200)
                        .extract()
                        .path("[0].id"))
                .longValue();
    }
}
