package dev.outpost.sync.auth;

import dev.outpost.sync.config.OutpostConfig;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * Valid credentials remembered per replica, by the hash of their token, for {@code outpost.auth.credential-cache-ttl}
 * (a request then costs no database query) and at most {@code outpost.auth.credential-cache-size} of them (then all are
 * forgotten at once; the next requests simply look theirs up again). What is forgotten through this replica is
 * refused at once; through another one, within the lifetime.
 */
final class CredentialCache<T> {
    private final long ttlNanos;
    private final int sizeMax;
    private final ConcurrentHashMap<String, Remembered<T>> remembered = new ConcurrentHashMap<>();

    private record Remembered<T>(T holder, long untilNanos) {}

    CredentialCache(OutpostConfig config) {
        this.ttlNanos = config.auth().credentialCacheTtl().toNanos();
        this.sizeMax = config.auth().credentialCacheSize();
    }

    /** The key a token's hash is remembered by. */
    static String key(byte[] tokenHash) {
        return HexFormat.of().formatHex(tokenHash);
    }

    /** Who holds the credential, when it was remembered and has not outlived its time; else null. */
    T get(String key) {
        Remembered<T> r = remembered.get(key);
        return r != null && System.nanoTime() - r.untilNanos() < 0 ? r.holder() : null;
    }

    /** Remembers a credential that was just found valid (nothing when the lifetime is zero). */
    void put(String key, T holder) {
        if (ttlNanos > 0) {
            if (remembered.size() >= sizeMax) {
                remembered.clear();
            }
            remembered.put(key, new Remembered<>(holder, System.nanoTime() + ttlNanos));
        }
    }

    /** Forgets one credential (found revoked or expired). */
    void remove(String key) {
        remembered.remove(key);
    }

    /** Forgets every credential. */
    void clear() {
        remembered.clear();
    }

    /** Forgets every credential whose holder matches (a device revoked, an operator disabled). */
    void forgetIf(Predicate<T> holder) {
        remembered.values().removeIf(r -> holder.test(r.holder()));
    }
}
