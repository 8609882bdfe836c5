package dev.outpost.model.rollout;

import dev.outpost.model.artifact.Sha256;
import java.nio.charset.StandardCharsets;

/**
 * Where a device falls in every rollout: its id hashed (SHA-256) into one of {@link #BUCKETS} buckets. Stable across
 * restarts, replicas and releases, independent of which other devices exist, so a device keeps its place and a
 * device that registers during a rollout lands where the same hash puts it.
 */
public final class WaveHash {
    public static final int BUCKETS = 10_000;

    private WaveHash() {}

    public static int bucket(String deviceId) {
        byte[] h = Sha256.digest(deviceId.getBytes(StandardCharsets.UTF_8)).bytes();
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | (h[i] & 0xff);
        }
        return (int) Long.remainderUnsigned(v, BUCKETS);
    }
}
