package dev.outpost.device.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.sqlite.SqliteDatabase;
import dev.outpost.device.sqlite.SqliteSettings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.TrustedKeys;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a device comes to trust a signing key, on a real SQLite home: only through a delegation its root key signed
 * (never on first use), the newest one by issue time (a replayed older one does not bring back a key rotated away
 * from), unexpired by the corrected clock (a clock set back does not revive a key); what is installed keeps verifying
 * by every key a delegation once named.
 */
class ModelKeysIT {
    private static final long DAY = 86_400_000L;
    private static final SigningKeys ROOT = SigningKeys.generate();
    private static final SigningKeys K1 = SigningKeys.generate();
    private static final SigningKeys K2 = SigningKeys.generate();

    @TempDir
    Path dir;

    private SqliteDatabase db;
    private SqliteSettings settings;
    /** What the service's {@code /v1/artifacts/signing-key} answers, and how often it was asked. */
    private String served = "{}";

    private final AtomicInteger asked = new AtomicInteger();
    private long wallMs = System.currentTimeMillis();

    @BeforeEach
    void open() {
        db = SqliteDatabase.open(dir.resolve("home.db"));
        settings = new SqliteSettings(db);
    }

    @AfterEach
    void close() {
        db.close();
    }

    private ModelKeys keys() {
        ArtifactLink link = new ArtifactLink() {
            @Override
            public long bytesDownloaded() {
                return 0;
            }

            @Override
            public byte[] fetch(String path, int maxBytes) {
                throw new AssertionError("only the signing key is asked for");
            }

            @Override
            public void fetchTo(String path, long maxBytes, Path file) {
                throw new AssertionError("only the signing key is asked for");
            }

            @Override
            public String getJson(String path) {
                assertEquals("v1/artifacts/signing-key", path);
                asked.incrementAndGet();
                return served;
            }

            @Override
            public int postJson(String path, String json) {
                return 200;
            }
        };
        return new ModelKeys(db, settings, link, () -> wallMs);
    }

    private void serve(SigningKeys root, List<SigningKeys> delegated, long issuedAt, long validMs) {
        String d = Base64.getEncoder()
                .encodeToString(new KeyDelegation(
                                delegated.stream().map(SigningKeys::publicKey).toList(), issuedAt, issuedAt + validMs)
                        .sign(root)
                        .encode());
        served = "{\"keyId\":\"x\",\"publicKey\":\"x\",\"delegation\":\"" + d + "\"}";
    }

    private void given(Setting setting, String value) {
        db.run(() -> settings.put(setting, value));
    }

    private static OutpostException refusal(TrustedKeys keys, SigningKeys key, ErrorCode code, String says) {
        OutpostException e = assertThrows(OutpostException.class, () -> keys.key(key.keyId()));
        assertEquals(code, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains(says), e.getMessage());
        return e;
    }

    @Test
    void withoutARootOrAPinnedKeyNothingIsTrustedAndTheServiceIsNotAsked() {
        serve(ROOT, List.of(K1), wallMs, 30 * DAY);
        refusal(keys().current(), K1, ErrorCode.SIGNATURE_INVALID, "trusts no model key");
        assertEquals(0, asked.get(), "no trust on first use: what the service offers is not even read");
    }

    @Test
    void aKeyIsTrustedOnlyThroughTheRootsNewestDelegation() {
        given(Setting.MODEL_ROOT_KEY, ROOT.publicBase64());
        serve(ROOT, List.of(K1), wallMs - DAY, 30 * DAY);
        assertEquals(K1.publicKey(), keys().current().key(K1.keyId()));
        refusal(keys().current(), K2, ErrorCode.SIGNATURE_INVALID, "does not delegate");

        // A key the root did not delegate, offered with a delegation another key signed: refused, nothing kept.
        SigningKeys rogue = SigningKeys.generate();
        String before = served;
        serve(rogue, List.of(K2), wallMs, 30 * DAY);
        refusal(keys().current(), K2, ErrorCode.SIGNATURE_INVALID, "not by the root key " + ROOT.keyId());
        served = before;

        // Rotation: the root delegates K2; a device holding K1's delegation asks again and trusts K2.
        serve(ROOT, List.of(K2), wallMs, 30 * DAY);
        assertEquals(K2.publicKey(), keys().current().key(K2.keyId()));
        // K1 signs nothing new any more, but the manifests installed under it still verify.
        refusal(keys().current(), K1, ErrorCode.SIGNATURE_INVALID, "does not delegate");
        assertEquals(K1.publicKey(), keys().installed().key(K1.keyId()));
        assertEquals(K1.publicKey(), keys().held().key(K1.keyId()));

        // Someone between replays K1's older delegation: it is not taken, K1 stays out.
        serve(ROOT, List.of(K1), wallMs - DAY, 30 * DAY);
        refusal(keys().current(), K1, ErrorCode.SIGNATURE_INVALID, "its newest delegation names [" + K2.keyId());
        assertEquals(K2.publicKey(), keys().current().key(K2.keyId()));
    }

    @Test
    void anExpiredDelegationIsRefusedAndASetBackClockDoesNotReviveIt() {
        given(Setting.MODEL_ROOT_KEY, ROOT.publicBase64());
        long issued = wallMs;
        serve(ROOT, List.of(K1), issued, 10 * DAY);
        ModelKeys keys = keys();
        assertEquals(K1.publicKey(), keys.current().key(K1.keyId()));

        wallMs = issued + 11 * DAY;
        int before = asked.get();
        refusal(keys().current(), K1, ErrorCode.KEY_EXPIRED, "were delegated until");
        assertEquals(before + 1, asked.get(), "an expired delegation makes the device ask for a newer one");

        // The device has verified a document issued on day 11: setting its clock back to day 1 revives nothing.
        keys().noteVerified(issued + 11 * DAY);
        wallMs = issued + DAY;
        refusal(keys().current(), K1, ErrorCode.KEY_EXPIRED, "were delegated until");

        // The operator renews the delegation (the same key, a later issue time): trusted again.
        serve(ROOT, List.of(K1), issued + 11 * DAY, 90 * DAY);
        assertEquals(K1.publicKey(), keys().current().key(K1.keyId()));
    }

    @Test
    void aPinnedKeyIsTrustedWithoutADelegationAndNothingElseIs() {
        given(Setting.MODEL_SIGNING_KEY, K1.publicBase64());
        assertEquals(K1.publicKey(), keys().current().key(K1.keyId()));
        assertEquals(K1.publicKey(), keys().installed().key(K1.keyId()));
        serve(ROOT, List.of(K2), wallMs, 30 * DAY);
        refusal(keys().current(), K2, ErrorCode.SIGNATURE_INVALID, "not by the pinned key " + K1.keyId());
        assertEquals(0, asked.get(), "a device with a pinned key and no root takes no delegation");
    }
}
