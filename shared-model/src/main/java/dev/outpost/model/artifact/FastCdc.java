package dev.outpost.model.artifact;

/**
 * Content-defined chunk boundaries (FastCDC with normalized chunking): a gear hash rolls over the bytes and a cut
 * falls where its top bits are zero, with a stricter mask before the average size and a looser one after it, so
 * sizes cluster around {@link #AVERAGE_BYTES}. Cuts depend on the last 64 bytes only, so an insertion moves the cuts
 * near it and none further away: that is what lets a new version reuse the old one's chunks.
 *
 * <p>The gear table and masks are part of the artifact format: changing them changes every chunk address.
 */
public final class FastCdc {
    public static final int MIN_BYTES = 16 * 1024;
    public static final int AVERAGE_BYTES = 64 * 1024;
    public static final int MAX_BYTES = 256 * 1024;

    /** 18 bits before the average (cuts rarer), 14 after (cuts likelier): normalization level 2. */
    private static final long MASK_SMALL = topBits(18);

    private static final long MASK_LARGE = topBits(14);
    private static final long[] GEAR = gearTable();

    private FastCdc() {}

    /**
     * The length of the chunk starting at {@code offset}. {@code available} bytes follow it; pass at least
     * {@link #MAX_BYTES} unless the input ends there.
     */
    public static int cut(byte[] data, int offset, int available) {
        if (available <= MIN_BYTES) {
            return available;
        }
        int end = Math.min(available, MAX_BYTES);
        int normal = Math.min(AVERAGE_BYTES, end);
        long hash = 0;
        int i = MIN_BYTES;
        for (; i < normal; i++) {
            hash = (hash << 1) + GEAR[data[offset + i] & 0xff];
            if ((hash & MASK_SMALL) == 0) {
                return i + 1;
            }
        }
        for (; i < end; i++) {
            hash = (hash << 1) + GEAR[data[offset + i] & 0xff];
            if ((hash & MASK_LARGE) == 0) {
                return i + 1;
            }
        }
        return end;
    }

    private static long topBits(int n) {
        return -1L << (64 - n);
    }

    /** SplitMix64 from a fixed seed: reproducible anywhere without shipping a table. */
    private static long[] gearTable() {
        long[] table = new long[256];
        long state = 0x6f7574706f737431L; // "outpost1"
        for (int i = 0; i < table.length; i++) {
            state += 0x9e3779b97f4a7c15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            table[i] = z ^ (z >>> 31);
        }
        return table;
    }
}
