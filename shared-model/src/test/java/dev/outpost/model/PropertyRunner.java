package dev.outpost.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A small seeded property runner: generates {@code tries} scripts from consecutive seeds, runs each, and on failure
 * shrinks the script by dropping steps while it still fails, then reports the seed and the smallest failing script.
 * Replay one failure with {@code -Doutpost.property.seed=SEED -Doutpost.property.tries=1}.
 *
 * <p>Why not jqwik: jqwik 1.x runs on JUnit Platform 1.x while Quarkus 3.34 brings JUnit 6, and its maintainers ask
 * that it not be used by AI coding agents, which write part of this code base.
 */
public final class PropertyRunner {
    private PropertyRunner() {}

    public static int tries() {
        return Integer.getInteger("outpost.property.tries", 1000);
    }

    /**
     * @param generate builds a script (a list of steps) from a seeded random source
     * @param run executes a script and throws {@link AssertionError} when the property does not hold
     */
    public static <S> void forAll(String property, Function<Random, List<S>> generate, Consumer<List<S>> run) {
        long base = Long.getLong("outpost.property.seed", System.nanoTime());
        int tries = tries();
        for (int i = 0; i < tries; i++) {
            long seed = base + i;
            List<S> script = generate.apply(new Random(seed));
            AssertionError failure = failureOf(run, script);
            if (failure != null) {
                List<S> small = shrink(run, script);
                AssertionError smallFailure = failureOf(run, small);
                AssertionError report = new AssertionError(
                        property + " failed at try " + (i + 1) + " of " + tries
                                + "; replay with -Doutpost.property.seed="
                                + seed + " -Doutpost.property.tries=1\nshrunk script (" + small.size() + " of "
                                + script.size() + " steps):\n  "
                                + String.join(
                                        "\n  ",
                                        small.stream().map(String::valueOf).toList())
                                + "\nfailure: " + (smallFailure == null ? failure : smallFailure).getMessage(),
                        failure);
                throw report;
            }
        }
    }

    private static <S> AssertionError failureOf(Consumer<List<S>> run, List<S> script) {
        try {
            run.accept(script);
            return null;
        } catch (AssertionError e) {
            return e;
        } catch (RuntimeException e) {
            return new AssertionError("unexpected " + e, e);
        }
    }

    /** Drops single steps, last first, while the script keeps failing; bounded so a slow property stays bounded. */
    private static <S> List<S> shrink(Consumer<List<S>> run, List<S> script) {
        List<S> current = new ArrayList<>(script);
        int budget = 5_000;
        boolean progress = true;
        while (progress && budget > 0) {
            progress = false;
            for (int i = current.size() - 1; i >= 0 && budget > 0; i--) {
                List<S> candidate = new ArrayList<>(current);
                candidate.remove(i);
                budget--;
                if (failureOf(run, candidate) != null) {
                    current = candidate;
                    progress = true;
                }
            }
        }
        return current;
    }
}
