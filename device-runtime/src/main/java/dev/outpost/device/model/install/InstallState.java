package dev.outpost.device.model.install;

/**
 * Where an install of one artifact stands, as the state machine of docs/artifacts.md: {@link Downloading} into the
 * inactive slot (steps done so far), {@link Activating} (the slot is complete; the file is verified whole and the
 * {@code current} link switched), {@link Checking} (the new version is live; its health check has failed so many
 * times). Each state holds what is true in it, and only the transitions below lead out of it. A switch back to the
 * kept slot starts at {@link Activating}. Stored by {@link #key} with its counts; keys never change once shipped.
 */
public sealed interface InstallState {
    String key();

    /** Steps of the plan done (all of them from {@link Activating} on). */
    int stepsDone();

    /** Failed health checks so far (0 before {@link Checking}). */
    default int healthTries() {
        return 0;
    }

    record Downloading(int stepsDone) implements InstallState {
        public static final Downloading START = new Downloading(0);

        @Override
        public String key() {
            return "downloading";
        }

        /** Progress: {@code steps} of the plan are in the slot. */
        public Downloading at(int steps) {
            return new Downloading(steps);
        }

        /** Every one of {@code steps} is in the slot and the slot verifies: activation comes next. */
        public Activating downloaded(int steps) {
            return new Activating(steps);
        }
    }

    record Activating(int stepsDone) implements InstallState {
        @Override
        public String key() {
            return "activating";
        }

        /** The link points at the new version: its health check comes next. */
        public Checking activated() {
            return new Checking(stepsDone, 0);
        }
    }

    record Checking(int stepsDone, int healthTries) implements InstallState {
        @Override
        public String key() {
            return "checking";
        }

        public Checking failedOnce() {
            return new Checking(stepsDone, healthTries + 1);
        }
    }

    /** The state stored under {@code key} with its counts, or null for a key this runtime does not know. */
    static InstallState of(String key, int stepsDone, int healthTries) {
        return switch (key) {
            case "downloading" -> new Downloading(stepsDone);
            case "activating" -> new Activating(stepsDone);
            case "checking" -> new Checking(stepsDone, healthTries);
            default -> null;
        };
    }
}
