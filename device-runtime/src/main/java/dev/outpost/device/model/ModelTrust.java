package dev.outpost.device.model;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.SigningKeys;

/**
 * What a device is told at {@code init} to trust model documents by (see {@link ModelKeys}): the operator's offline
 * root key ({@code --root-key}), one online key pinned for good ({@code --model-key}), or both; each base64 X.509
 * Ed25519, stripped. Neither: the device installs no model until it is set up again with one.
 */
public record ModelTrust(String rootKey, String pinnedKey) {
    public static final ModelTrust NONE = new ModelTrust(null, null);

    public ModelTrust {
        rootKey = rootKey == null ? null : rootKey.strip();
        pinnedKey = pinnedKey == null ? null : pinnedKey.strip();
    }

    public static ModelTrust root(String rootKey) {
        return new ModelTrust(rootKey, null);
    }

    public static ModelTrust pinned(String pinnedKey) {
        return new ModelTrust(null, pinnedKey);
    }

    /** Refuses a key that is not a base64 X.509 Ed25519 public key, naming the option it came from. */
    public void check() {
        check(rootKey, "--root-key");
        check(pinnedKey, "--model-key");
    }

    private static void check(String key, String option) {
        if (key != null) {
            try {
                SigningKeys.decodePublic(key);
            } catch (OutpostException e) {
                throw new DeviceException(ExitCode.BAD_INPUT, option + ": " + e.getMessage());
            }
        }
    }
}
