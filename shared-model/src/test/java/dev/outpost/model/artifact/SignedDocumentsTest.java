package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.security.PublicKey;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class SignedDocumentsTest {
    private static final SigningKeys KEYS = SigningKeys.generate();

    @Test
    void aSignedManifestRoundTripsAndVerifies() throws IOException {
        Manifest m = manifest(1);
        byte[] wire =
                SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), KEYS).encode();

        byte[] payload = SignedEnvelope.decode(wire).verifiedPayload(Manifest.PAYLOAD_TYPE, KEYS.publicKey());

        assertEquals(m, Manifest.decode(payload));
        assertArrayEquals(m.encode(), payload, "one canonical encoding");
    }

    @Test
    void everyFlippedBitIsCaught() throws IOException {
        byte[] wire = SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, manifest(1).encode(), KEYS)
                .encode();
        for (int i = 0; i < wire.length; i += 7) {
            byte[] tampered = wire.clone();
            tampered[i] ^= 0x10;
            OutpostException e = assertThrows(
                    OutpostException.class,
                    () -> SignedEnvelope.decode(tampered).verifiedPayload(Manifest.PAYLOAD_TYPE, KEYS.publicKey()));
            assertEquals(
                    true,
                    e.code() == ErrorCode.SIGNATURE_INVALID || e.code() == ErrorCode.ARTIFACT_INVALID,
                    "byte " + i + ": " + e.code());
        }
    }

    @Test
    void anotherKeysSignatureIsRefused() throws IOException {
        byte[] wire = SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, manifest(1).encode(), SigningKeys.generate())
                .encode();
        OutpostException e = assertThrows(
                OutpostException.class,
                () -> SignedEnvelope.decode(wire).verifiedPayload(Manifest.PAYLOAD_TYPE, KEYS.publicKey()));
        assertEquals(ErrorCode.SIGNATURE_INVALID, e.code());
    }

    @Test
    void aSignedManifestCannotPassForAnAssignment() throws IOException {
        SignedEnvelope env =
                SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, manifest(1).encode(), KEYS);
        OutpostException e = assertThrows(
                OutpostException.class, () -> env.verifiedPayload(Assignment.PAYLOAD_TYPE, KEYS.publicKey()));
        assertEquals(ErrorCode.SIGNATURE_INVALID, e.code());
        // Relabelling the type breaks the signature, since the type is signed too.
        var relabelled = new SignedEnvelope(Assignment.PAYLOAD_TYPE, env.payload(), env.keyId(), env.signature());
        assertThrows(
                OutpostException.class, () -> relabelled.verifiedPayload(Assignment.PAYLOAD_TYPE, KEYS.publicKey()));
    }

    @Test
    void envelopesSignedBeforeThePrehashStillVerifyAndNeitherPassesForTheOther() throws IOException {
        byte[] payload = manifest(1).encode();
        SignedEnvelope pure = SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, payload, KEYS, SignedEnvelope.ED25519);
        SignedEnvelope now = SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, payload, KEYS);
        assertEquals(SignedEnvelope.ED25519PH, now.format());

        for (SignedEnvelope env : List.of(pure, now)) {
            SignedEnvelope decoded = SignedEnvelope.decode(env.encode());
            assertEquals(env, decoded);
            assertArrayEquals(payload, decoded.verifiedPayload(Manifest.PAYLOAD_TYPE, KEYS.publicKey()));
            // The same signature under the other format's label is another algorithm's signature: refused.
            int other = env.format() == SignedEnvelope.ED25519 ? SignedEnvelope.ED25519PH : SignedEnvelope.ED25519;
            var relabelled = new SignedEnvelope(env.payloadType(), payload, env.keyId(), env.signature(), other);
            OutpostException e = assertThrows(
                    OutpostException.class, () -> relabelled.verify(Manifest.PAYLOAD_TYPE, KEYS.publicKey()));
            assertEquals(ErrorCode.SIGNATURE_INVALID, e.code());
        }
        byte[] unknown = now.encode();
        unknown[4] = 3; // the format byte after the magic
        assertEquals(
                ErrorCode.ARTIFACT_INVALID,
                assertThrows(OutpostException.class, () -> SignedEnvelope.decode(unknown))
                        .code());
    }

    @Test
    void anEnvelopeReadInPlaceGivesTheSameManifestAndIsCheckedTheSame() throws IOException {
        Manifest m = manifest(3);
        byte[] wire =
                SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, m.encode(), KEYS).encode();

        SignedEnvelope.View view = SignedEnvelope.view(wire);
        view.verify(Manifest.PAYLOAD_TYPE, KEYS.publicKey());
        Manifest inPlace = Manifest.of(view);
        assertEquals(m, inPlace);
        assertEquals(m.hashCode(), inPlace.hashCode());
        assertEquals(m.digest(), inPlace.digest());
        assertEquals(m.digest(), view.payloadDigest());
        assertArrayEquals(m.encode(), inPlace.encode());
        assertEquals(m.chunks(), inPlace.chunks());
        assertEquals(0, inPlace.index().firstOf(m, 0));
        org.junit.jupiter.api.Assertions.assertSame(wire, view.data(), "read in place, not copied");

        byte[] tampered = wire.clone();
        tampered[view.payloadOffset() + view.payloadLength() - 1] ^= 1;
        assertEquals(
                ErrorCode.SIGNATURE_INVALID,
                assertThrows(
                                OutpostException.class,
                                () -> SignedEnvelope.view(tampered).verify(Manifest.PAYLOAD_TYPE, KEYS.publicKey()))
                        .code());
        byte[] assignment = SignedEnvelope.sign(
                        Assignment.PAYLOAD_TYPE,
                        new Assignment("crop-model", 3, Sha256.digest(new byte[] {1}), 1000, 2000, false).encode(),
                        KEYS)
                .encode();
        assertEquals(
                ErrorCode.ARTIFACT_INVALID,
                assertThrows(OutpostException.class, () -> Manifest.of(SignedEnvelope.view(assignment)))
                        .code());
    }

    @Test
    void verifyingALargeManifestDoesNotCopyIt() {
        // A 2 GB model's manifest is about 1.2 MB; pure Ed25519 in the JDK buffers the message (and its growth).
        byte[] payload = new byte[4 << 20];
        new java.util.Random(7).nextBytes(payload);
        SignedEnvelope env = SignedEnvelope.sign("application/octet-stream", payload, KEYS);
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        env.verify("application/octet-stream", KEYS.publicKey()); // the first use loads and initialises classes
        long before = threads.getCurrentThreadAllocatedBytes();
        env.verify("application/octet-stream", KEYS.publicKey());
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertEquals(true, allocated < payload.length / 16, allocated + " bytes allocated to verify");
    }

    @Test
    void aStoredEnvelopeIsCheckedAsTheOthersAndVerifiedWithoutReadingItWhole() throws IOException {
        byte[] wire = SignedEnvelope.sign(Manifest.PAYLOAD_TYPE, manifest(1).encode(), KEYS)
                .encode();
        SignedEnvelope.Stored stored = SignedEnvelope.stored(ByteSource.of(wire));
        stored.verify(Manifest.PAYLOAD_TYPE, KEYS.publicKey());
        assertEquals(SignedEnvelope.view(wire).payloadDigest(), stored.payloadDigest());
        for (int i = 0; i < wire.length; i += 7) {
            byte[] tampered = wire.clone();
            tampered[i] ^= 0x10;
            OutpostException e = assertThrows(
                    OutpostException.class,
                    () -> SignedEnvelope.stored(ByteSource.of(tampered))
                            .verify(Manifest.PAYLOAD_TYPE, KEYS.publicKey()));
            assertEquals(
                    true,
                    e.code() == ErrorCode.SIGNATURE_INVALID || e.code() == ErrorCode.ARTIFACT_INVALID,
                    "byte " + i + ": " + e.code());
        }

        byte[] payload = new byte[4 << 20];
        new java.util.Random(8).nextBytes(payload);
        byte[] large =
                SignedEnvelope.sign("application/octet-stream", payload, KEYS).encode();
        SignedEnvelope.Stored big = SignedEnvelope.stored(ByteSource.of(large));
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        big.verify("application/octet-stream", KEYS.publicKey());
        long before = threads.getCurrentThreadAllocatedBytes();
        big.verify("application/octet-stream", KEYS.publicKey());
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertEquals(true, allocated < payload.length / 16, allocated + " bytes allocated to verify");
    }

    @Test
    void assignmentsRoundTripWithTheirRollbackFlag() {
        var a = new Assignment("crop-model", 3, Sha256.digest(new byte[] {1}), 1000, 2000, true);
        assertEquals(a, Assignment.decode(a.encode()));
    }

    @Test
    void truncatedOrPaddedDocumentsAreInvalid() throws IOException {
        byte[] m = manifest(2).encode();
        for (byte[] bad : List.of(java.util.Arrays.copyOf(m, m.length - 1), java.util.Arrays.copyOf(m, m.length + 1))) {
            OutpostException e = assertThrows(OutpostException.class, () -> Manifest.decode(bad));
            assertEquals(ErrorCode.ARTIFACT_INVALID, e.code());
        }
    }

    @Test
    void keysRoundTripThroughTheirTextForm() {
        SigningKeys again = SigningKeys.decode(KEYS.privateBase64(), KEYS.publicBase64());
        byte[] payload = {1, 2, 3};
        byte[] verified = SignedEnvelope.sign("t", payload, again).verifiedPayload("t", KEYS.publicKey());
        assertArrayEquals(payload, verified);
        assertEquals(KEYS.keyId(), again.keyId());
    }

    @Test
    void aDecodedPublicKeyVerifiesAndEveryAlteredKeyIsRefused() {
        byte[] payload = {4, 5, 6};
        SignedEnvelope signed = SignedEnvelope.sign("t", payload, KEYS);
        PublicKey decoded = SigningKeys.decodePublic(KEYS.publicBase64());
        assertArrayEquals(payload, signed.verifiedPayload("t", decoded));
        assertArrayEquals(KEYS.publicKey().getEncoded(), decoded.getEncoded());
        assertEquals(KEYS.keyId(), SigningKeys.keyId(decoded));
        byte[] spki = KEYS.publicKey().getEncoded();
        for (int bit = 0; bit < spki.length * 8; bit++) {
            byte[] altered = spki.clone();
            altered[bit / 8] ^= (byte) (1 << (bit % 8));
            String text = Base64.getEncoder().encodeToString(altered);
            OutpostException e = assertThrows(
                    OutpostException.class, () -> signed.verifiedPayload("t", SigningKeys.decodePublic(text)));
            assertEquals(ErrorCode.SIGNATURE_INVALID, e.code(), "bit " + bit);
        }
        for (String notAKey : List.of("", "AAAA", Base64.getEncoder().encodeToString(new byte[44]), "%%%")) {
            OutpostException e = assertThrows(OutpostException.class, () -> SigningKeys.decodePublic(notAKey));
            assertEquals(ErrorCode.SIGNATURE_INVALID, e.code());
        }
    }

    static Manifest manifest(long version) throws IOException {
        byte[] data = FastCdcTest.random(version, 1 << 20);
        return ManifestBuilder.build(
                "crop-model", version, 1_700_000_000_000L, new ByteArrayInputStream(data), (h, raw) -> raw.length / 2);
    }
}
