package dev.outpost.model.artifact;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/**
 * The service's Ed25519 key pair (the JDK's EdDSA). Keys travel as base64 of their standard encodings: PKCS#8 for
 * the private key, X.509 SubjectPublicKeyInfo for the public key. The key id is the first 8 bytes of the SHA-256 of
 * the public key's encoding, in hex.
 */
public record SigningKeys(PrivateKey privateKey, PublicKey publicKey) {

    public static SigningKeys generate() {
        try {
            KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
            return new SigningKeys(pair.getPrivate(), pair.getPublic());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every Java 25 runtime has Ed25519", e);
        }
    }

    /** From base64 PKCS#8 (private) and X.509 (public) text. */
    public static SigningKeys decode(String privateBase64, String publicBase64) {
        try {
            KeyFactory kf = KeyFactory.getInstance("Ed25519");
            PrivateKey priv = kf.generatePrivate(
                    new PKCS8EncodedKeySpec(Base64.getDecoder().decode(privateBase64.strip())));
            return new SigningKeys(priv, decodePublic(publicBase64));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new OutpostException(ErrorCode.SIGNATURE_INVALID, "not an Ed25519 key pair in base64 PKCS#8/X.509");
        }
    }

    /** The public key from base64 X.509 text; read without the JDK's key factory (see {@link Ed25519PublicKey}). */
    public static PublicKey decodePublic(String publicBase64) {
        try {
            return Ed25519PublicKey.fromSpki(Base64.getDecoder().decode(publicBase64.strip()));
        } catch (IllegalArgumentException e) {
            throw new OutpostException(ErrorCode.SIGNATURE_INVALID, "not an Ed25519 public key in base64 X.509");
        }
    }

    public String privateBase64() {
        return Base64.getEncoder().encodeToString(privateKey.getEncoded());
    }

    public String publicBase64() {
        return Base64.getEncoder().encodeToString(publicKey.getEncoded());
    }

    public String keyId() {
        return keyId(publicKey);
    }

    public static String keyId(PublicKey key) {
        return Sha256.digest(key.getEncoded()).hex().substring(0, 16);
    }
}
