package dev.outpost.model.rollout;

/**
 * What the devices of one wave reported for the rollout's version so far.
 *
 * @param devices devices in the wave (late joiners included)
 * @param healthy devices whose last report is a healthy install of the version
 * @param failed devices whose last report is a failure or a revert
 */
public record WaveReport(int devices, int healthy, int failed) {
    public WaveReport {
        if (devices < 0 || healthy < 0 || failed < 0 || healthy + failed > devices) {
            throw new IllegalArgumentException("reports cannot outnumber devices");
        }
    }

    public int reports() {
        return healthy + failed;
    }
}
