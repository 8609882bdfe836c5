package dev.outpost.model.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.OutpostException;
import dev.outpost.model.PropertyRunner;
import dev.outpost.model.rollout.RolloutState.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class RolloutMachineTest {
    private static final long VERSION = 7;
    private static final long PREVIOUS = 6;

    /** One step of a rollout's life: an operator action, or an evaluation of (random) reports. */
    record Step(String action, long seed) {}

    @Test
    void aDeviceNeverChangesWaveAndLateJoinersLandByTheSameHash() {
        PropertyRunner.forAll("stable waves", r -> List.of(new Step("ids", r.nextLong())), script -> {
            Random r = new Random(script.getFirst().seed());
            RolloutPolicy policy = randomPolicy(r);
            List<String> fleet = ids(r, 200);
            Map<String, Integer> before = new HashMap<>();
            fleet.forEach(id -> before.put(id, policy.waveOf(id)));
            // More devices register, in another order: nobody already placed moves.
            List<String> later = new ArrayList<>(ids(r, 300));
            later.addAll(fleet);
            java.util.Collections.shuffle(later, r);
            for (String id : later) {
                int wave = policy.waveOf(id);
                assertTrue(wave >= 0 && wave < policy.wavePercents().size());
                if (before.containsKey(id)) {
                    assertEquals(before.get(id), wave, id);
                }
            }
        });
    }

    /** 10,000 seeded device ids, hashed once (the policies vary, the fleet does not). */
    private static final int[] FLEET_BUCKETS = ids(new Random(20261123), 10_000).stream()
            .mapToInt(WaveHash::bucket)
            .toArray();

    @Test
    void waveSizesHoldWithinTwoPointsOverTenThousandDevices() {
        // For any set of thresholds, 10,000 uniform hashes stray more than 2 points from the target shares with
        // probability below 7e-4 (Dvoretzky-Kiefer-Wolfowitz: 2 exp(-2 n eps^2)); the fleet here is fixed and seeded.
        PropertyRunner.forAll("wave sizes", r -> List.of(new Step("policy", r.nextLong())), script -> {
            RolloutPolicy policy = randomPolicy(new Random(script.getFirst().seed()));
            int[] count = new int[policy.wavePercents().size()];
            for (int bucket : FLEET_BUCKETS) {
                count[policy.waveOfBucket(bucket)]++;
            }
            int cumulative = 0;
            for (int i = 0; i < count.length; i++) {
                cumulative += count[i];
                double share = cumulative / 100.0;
                double expected = policy.wavePercents().get(i);
                assertTrue(
                        Math.abs(share - expected) <= 2.0,
                        "waves " + policy.wavePercents() + ": wave " + (i + 1) + " reaches " + share + "%");
            }
        });
    }

    @Test
    void aRollbackMakesThePreviousVersionDesiredForEveryDeviceTheRolloutTouched() {
        PropertyRunner.forAll(
                "rollback restores",
                r -> {
                    List<Step> steps = new ArrayList<>();
                    steps.add(new Step("policy", r.nextLong()));
                    steps.add(new Step("start", 0));
                    String[] actions = {"evaluate", "evaluate", "evaluate", "promote", "pause", "resume"};
                    for (int i = r.nextInt(12); i > 0; i--) {
                        steps.add(new Step(actions[r.nextInt(actions.length)], r.nextLong()));
                    }
                    steps.add(new Step("rollback", 0));
                    return steps;
                },
                script -> {
                    Random r = new Random(script.getFirst().seed());
                    RolloutPolicy policy = randomPolicy(r);
                    List<String> fleet = ids(r, 400);
                    RolloutState s = RolloutState.draft();
                    int openMax = 0;
                    for (Step step : script.subList(1, script.size())) {
                        RolloutState before = s;
                        s = apply(s, policy, fleet, step);
                        assertTrue(s.openWaves() >= before.openWaves(), "waves never close: " + before + " -> " + s);
                        assertTrue(before.status() != Status.ROLLED_BACK || s.equals(before), "a rollback is final");
                        if (s.status() == Status.COMPLETED) {
                            assertEquals(policy.wavePercents().size(), s.openWaves(), "completed with every wave open");
                        }
                        openMax = Math.max(openMax, s.openWaves());
                        if (s.status() != Status.ROLLED_BACK) {
                            for (String id : fleet) {
                                long desired = RolloutMachine.desiredVersion(s, policy, VERSION, PREVIOUS, id);
                                assertEquals(
                                        policy.waveOf(id) < s.openWaves() ? VERSION : PREVIOUS,
                                        desired,
                                        "open waves run the new version, the rest the old");
                            }
                        }
                    }
                    if (s.status() == Status.ROLLED_BACK) {
                        for (String id : fleet) {
                            assertEquals(PREVIOUS, RolloutMachine.desiredVersion(s, policy, VERSION, PREVIOUS, id));
                        }
                        assertEquals(openMax, s.openWaves(), "the rollback remembers how far the rollout went");
                    }
                });
    }

    @Test
    void aWaveOverTheFailureThresholdPausesTheRolloutBeforeTheNextWaveOpens() {
        RolloutPolicy policy = RolloutPolicy.standard();
        RolloutState s = RolloutMachine.promote(RolloutMachine.start(RolloutState.draft()), policy);
        List<WaveReport> reports = List.of(new WaveReport(10, 10, 0), new WaveReport(90, 40, 10));
        RolloutState after = RolloutMachine.evaluate(s, policy, reports, Duration.ZERO);
        assertEquals(Status.PAUSED, after.status());
        assertEquals(2, after.openWaves());
        assertTrue(after.reason().contains("wave 2 has 10 failures in 50 reports"), after.reason());
        // Four failures are not yet a trend (five reports needed), even at 100%.
        RolloutState early = RolloutMachine.evaluate(
                s, policy, List.of(new WaveReport(10, 10, 0), new WaveReport(90, 0, 4)), Duration.ZERO);
        assertEquals(Status.RUNNING, early.status());
    }

    @Test
    void aHealthyWaveWaitsForAnOperatorUnlessAutoPromotionIsOnAndItHasSoakedAndTheLastCompletes() {
        List<WaveReport> healthyFirst = List.of(new WaveReport(100, 95, 0));
        RolloutState started = RolloutMachine.start(RolloutState.draft());

        // Off by default: however long the healthy wave has been open, an operator promotes.
        RolloutPolicy standard = RolloutPolicy.standard();
        RolloutState manual = RolloutMachine.evaluate(started, standard, healthyFirst, Duration.ofDays(30));
        assertEquals(1, manual.openWaves());
        assertTrue(manual.reason().contains("waiting for an operator"), manual.reason());
        assertEquals(2, RolloutMachine.promote(manual, standard).openWaves());

        // On: not before the soak time, then by itself; the reason while soaking does not change with time.
        RolloutPolicy soaking = standard.withAutoPromoteAfter(Duration.ofMinutes(30));
        RolloutState early = RolloutMachine.evaluate(started, soaking, healthyFirst, Duration.ofMinutes(29));
        assertEquals(1, early.openWaves());
        assertEquals("wave 1 is healthy: the next wave opens by itself after a soak of 30m", early.reason());
        assertEquals(early, RolloutMachine.evaluate(early, soaking, healthyFirst, Duration.ofMinutes(5)));
        assertEquals(
                2,
                RolloutMachine.evaluate(early, soaking, healthyFirst, Duration.ofMinutes(30))
                        .openWaves());

        // Soaked but not healthy (94 of 100): nothing opens, and a wave that is no longer healthy does not say so.
        List<WaveReport> unhealthy = List.of(new WaveReport(100, 94, 0));
        assertEquals(started, RolloutMachine.evaluate(started, soaking, unhealthy, Duration.ofDays(1)));
        assertEquals(started, RolloutMachine.evaluate(early, soaking, unhealthy, Duration.ofMinutes(1)));

        // The last wave healthy completes the rollout, with or without automatic promotion.
        RolloutPolicy two = new RolloutPolicy(List.of(50.0, 100.0), 0.9, 1, null, 0.2, 3);
        RolloutState g = RolloutMachine.promote(RolloutMachine.start(RolloutState.draft()), two);
        g = RolloutMachine.evaluate(
                g, two, List.of(new WaveReport(10, 10, 0), new WaveReport(10, 9, 0)), Duration.ZERO);
        assertEquals(Status.COMPLETED, g.status());
        assertThrows(OutpostException.class, () -> RolloutMachine.start(RolloutMachine.start(RolloutState.draft())));
    }

    @Test
    void soakTimesReadAsPeopleWriteThem() {
        assertEquals("45s", RolloutMachine.soak(Duration.ofSeconds(45)));
        assertEquals("1h", RolloutMachine.soak(Duration.ofHours(1)));
        assertEquals("2h30m", RolloutMachine.soak(Duration.ofMinutes(150)));
        assertEquals("1m5s", RolloutMachine.soak(Duration.ofSeconds(65)));
    }

    private static RolloutState apply(RolloutState s, RolloutPolicy policy, List<String> fleet, Step step) {
        try {
            return switch (step.action()) {
                case "start" -> RolloutMachine.start(s);
                case "promote" -> RolloutMachine.promote(s, policy);
                case "pause" -> RolloutMachine.pause(s, "operator");
                case "resume" -> RolloutMachine.resume(s);
                case "rollback" -> RolloutMachine.rollBack(s, "operator");
                default ->
                    RolloutMachine.evaluate(
                            s,
                            policy,
                            reports(s, policy, fleet, new Random(step.seed())),
                            Duration.ofSeconds(new Random(step.seed()).nextInt(240)));
            };
        } catch (OutpostException notAllowedNow) {
            return s; // an action that does not apply in this state changes nothing
        }
    }

    private static List<WaveReport> reports(RolloutState s, RolloutPolicy policy, List<String> fleet, Random r) {
        int[] devices = new int[policy.wavePercents().size()];
        fleet.forEach(id -> devices[policy.waveOf(id)]++);
        List<WaveReport> out = new ArrayList<>();
        for (int i = 0; i < devices.length; i++) {
            int healthy = i < s.openWaves() ? r.nextInt(devices[i] + 1) : 0;
            int failed = i < s.openWaves() ? r.nextInt(devices[i] - healthy + 1) / (1 + r.nextInt(4)) : 0;
            out.add(new WaveReport(devices[i], healthy, failed));
        }
        return out;
    }

    static RolloutPolicy randomPolicy(Random r) {
        int waves = 1 + r.nextInt(5);
        List<Double> percents = new ArrayList<>();
        double at = 0;
        for (int i = 0; i < waves - 1; i++) {
            at += 1 + r.nextInt((int) Math.max(1, (99 - at) / (waves - i)));
            percents.add(at);
        }
        percents.add(100.0);
        return new RolloutPolicy(
                percents,
                0.5 + r.nextDouble() / 2,
                r.nextInt(3),
                r.nextBoolean() ? null : Duration.ofMinutes(r.nextInt(3)),
                0.05 + r.nextDouble() / 3,
                1 + r.nextInt(5));
    }

    static List<String> ids(Random r, int n) {
        List<String> ids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ids.add(new UUID(r.nextLong(), r.nextLong()).toString());
        }
        return ids;
    }
}
