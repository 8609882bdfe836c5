package dev.outpost.model.wire;

/**
 * Bounds a decoder enforces before it allocates: exceeding one is {@code PAYLOAD_TOO_LARGE} or
 * {@code BATCH_TOO_LARGE}, never an out-of-memory.
 *
 * @param payloadBytesMax the largest payload accepted, after decompression
 * @param changesMax the most changes one message may carry
 */
public record WireLimits(int payloadBytesMax, int changesMax) {
    /** 8 MiB and 10,000 changes: a day of edits on one device fits in a handful of batches. */
    public static final WireLimits DEFAULT = new WireLimits(8 * 1024 * 1024, 10_000);

    public WireLimits {
        if (payloadBytesMax <= 0 || changesMax <= 0) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }
}
