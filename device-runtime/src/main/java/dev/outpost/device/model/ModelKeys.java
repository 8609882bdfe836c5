package dev.outpost.device.model;

import dev.outpost.device.JsonFields;
import dev.outpost.device.clock.DeviceClock;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.SigningKeys;
import dev.outpost.model.artifact.TrustedKeys;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Which keys a device trusts model documents from (docs/SECURITY.md, "Model trust"). A device is given, at {@code init},
 * either the operator's offline root key ({@code --root-key}: the online signing key is trusted only through a key
 * delegation the root signed, so the service can rotate it) or one online key pinned for good ({@code --model-key}).
 * Nothing is trusted on first use: a device given neither refuses every model document.
 *
 * <ul>
 *   <li>{@link #current()}: the keys that may sign a new assignment now, those of the newest delegation the device
 *       verified, unexpired by {@link #nowMs()}. A key it does not hold, or an expired delegation, makes it ask the
 *       service for its delegation once; an older one than the device holds is ignored (a replay would bring back a
 *       key rotated away from).
 *   <li>{@link #installed()}: every key a verified delegation ever named, for the manifests of what is installed.
 *   <li>{@link #nowMs()}: the clock expiry is judged by, corrected by the service's: the device clock plus the offset
 *       sync measured, and never earlier than the newest issue time of a document the device verified, so a clock set
 *       back cannot revive an expired key or assignment.
 * </ul>
 */
public final class ModelKeys {
    private final Transactions tx;
    private final Settings settings;
    private final ArtifactLink link;
    private final LongSupplier wallMs;
    private boolean refreshed;
    /** Why asking the service failed, said again to every later question of this instance. */
    private OutpostException refusedDelegation;

    public ModelKeys(Transactions tx, Settings settings, ArtifactLink link, LongSupplier wallMs) {
        this.tx = tx;
        this.settings = settings;
        this.link = link;
        this.wallMs = wallMs;
    }

    /** Whether this device was given a root or a pinned key: without one, every model document is refused. */
    public boolean configured() {
        return root().isPresent() || pinned().isPresent();
    }

    /** The keys a new assignment may be signed with now. */
    public TrustedKeys current() {
        return keyId -> {
            Optional<PublicKey> pinned =
                    pinned().filter(k -> SigningKeys.keyId(k).equals(keyId));
            if (pinned.isPresent()) {
                return pinned.get();
            }
            PublicKey root = root().orElseThrow(() -> pinned().<OutpostException>map(p -> new OutpostException(
                            ErrorCode.SIGNATURE_INVALID,
                            "signed by key " + keyId + ", not by the pinned key " + SigningKeys.keyId(p)))
                    .orElseGet(() -> untrusted(keyId)));
            Optional<KeyDelegation> stored = delegation();
            boolean stale = stored.isEmpty()
                    || !stored.get().delegates(keyId)
                    || nowMs() > stored.get().expiresAtMs();
            KeyDelegation held = (stale ? refresh(root) : stored)
                    .orElseThrow(() -> new OutpostException(
                            ErrorCode.SIGNATURE_INVALID,
                            "signed by key " + keyId
                                    + ", and the service offers no key delegation signed by the root key "
                                    + SigningKeys.keyId(root)));
            if (!held.delegates(keyId)) {
                throw new OutpostException(
                        ErrorCode.SIGNATURE_INVALID,
                        "signed by key " + keyId + ", which the root key " + SigningKeys.keyId(root)
                                + " does not delegate (its newest delegation names " + held.keyIds() + ")");
            }
            held.checkCurrent(nowMs());
            return held.keys().stream()
                    .filter(k -> SigningKeys.keyId(k).equals(keyId))
                    .findFirst()
                    .orElseThrow();
        };
    }

    /**
     * The keys installed manifests may be signed with: every one a verified delegation named, or the pinned one; a key
     * not among them is looked for as {@link #current()} does (the service may have rotated to it since).
     */
    public TrustedKeys installed() {
        TrustedKeys held = held();
        return keyId -> {
            try {
                return held.key(keyId);
            } catch (OutpostException notHeld) {
                return current().key(keyId);
            }
        };
    }

    /** As {@link #installed()} without asking the service: for a status, which works offline. */
    public TrustedKeys held() {
        return TrustedKeys.of(seen());
    }

    /** The time expiry is judged by: see the class comment. */
    public long nowMs() {
        long offset = tx.inTransaction(() -> DeviceClock.offsetMs(settings));
        return Math.max(wallMs.getAsLong() + offset, trustedTimeMs());
    }

    /** Notes the issue time of a document that verified: time has reached it, whatever the device clock says. */
    public void noteVerified(long issuedAtMs) {
        if (issuedAtMs > trustedTimeMs()) {
            tx.run(() -> settings.put(Setting.MODEL_TRUSTED_TIME, Long.toString(issuedAtMs)));
        }
    }

    private long trustedTimeMs() {
        return tx.inTransaction(() -> settings.get(Setting.MODEL_TRUSTED_TIME))
                .map(Long::parseLong)
                .orElse(0L);
    }

    /**
     * Asks the service for its delegation (once per instance) and keeps it when the root signed it and it is not older
     * than the one held; returns the newest one held after that. One the root did not sign is
     * {@link ErrorCode#SIGNATURE_INVALID}: the service, or someone between, offers a key the operator did not delegate.
     */
    private Optional<KeyDelegation> refresh(PublicKey root) {
        if (refusedDelegation != null) {
            throw refusedDelegation;
        }
        if (refreshed) {
            return delegation();
        }
        refreshed = true;
        try {
            return fetchDelegation(root);
        } catch (OutpostException e) {
            refusedDelegation = e;
            throw e;
        }
    }

    private Optional<KeyDelegation> fetchDelegation(PublicKey root) {
        Optional<String> offered = JsonFields.string(link.getJson("v1/artifacts/signing-key"), "delegation");
        if (offered.isEmpty()) {
            return delegation();
        }
        byte[] encoded;
        try {
            encoded = Base64.getDecoder().decode(offered.get());
        } catch (IllegalArgumentException e) {
            throw new OutpostException(ErrorCode.SIGNATURE_INVALID, "the service's key delegation is not base64");
        }
        KeyDelegation fresh = KeyDelegation.verified(encoded, root);
        Optional<KeyDelegation> held = delegation();
        if (held.isPresent() && fresh.issuedAtMs() <= held.get().issuedAtMs()) {
            return held; // the same, or a replay of an older one
        }
        Set<String> seen = new LinkedHashSet<>(seenBase64());
        fresh.keys().forEach(k -> seen.add(Base64.getEncoder().encodeToString(k.getEncoded())));
        tx.run(() -> {
            settings.put(Setting.MODEL_KEY_DELEGATION, offered.get());
            settings.put(Setting.MODEL_KEYS_SEEN, String.join(",", seen));
        });
        noteVerified(fresh.issuedAtMs());
        return Optional.of(fresh);
    }

    /** The newest delegation this device verified (it verified it before keeping it). */
    private Optional<KeyDelegation> delegation() {
        return tx.inTransaction(() -> settings.get(Setting.MODEL_KEY_DELEGATION))
                .filter(v -> !v.isEmpty())
                .map(v -> KeyDelegation.decode(
                        SignedEnvelope.decode(Base64.getDecoder().decode(v)).payload()));
    }

    private List<PublicKey> seen() {
        List<PublicKey> keys = new ArrayList<>();
        pinned().ifPresent(keys::add);
        for (String k : seenBase64()) {
            keys.add(SigningKeys.decodePublic(k));
        }
        return keys;
    }

    private List<String> seenBase64() {
        return tx.inTransaction(() -> settings.get(Setting.MODEL_KEYS_SEEN))
                .filter(v -> !v.isEmpty())
                .map(v -> List.of(v.split(",")))
                .orElse(List.of());
    }

    private Optional<PublicKey> root() {
        return tx.inTransaction(() -> settings.get(Setting.MODEL_ROOT_KEY))
                .filter(v -> !v.isEmpty())
                .map(SigningKeys::decodePublic);
    }

    private Optional<PublicKey> pinned() {
        return tx.inTransaction(() -> settings.get(Setting.MODEL_SIGNING_KEY))
                .filter(v -> !v.isEmpty())
                .map(SigningKeys::decodePublic);
    }

    private static OutpostException untrusted(String keyId) {
        return new OutpostException(
                ErrorCode.SIGNATURE_INVALID,
                "signed by key " + keyId + ", and this device trusts no model key: give `outpost init` the operator's"
                        + " root key (--root-key) or the service's signing key (--model-key)");
    }
}
