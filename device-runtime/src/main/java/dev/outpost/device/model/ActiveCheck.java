package dev.outpost.device.model;

import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.TrustedKeys;
import java.io.IOException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.FutureTask;

/**
 * The version in an artifact's active slot, read at once, and its manifest's signature checked on a thread of its own
 * beside an update's first downloads (the target's manifest and delta index): the check took 15-17 ms of every update,
 * a process started for one update still interpreting the curve arithmetic, and those downloads' round trips about as
 * long. The update waits for it ({@link #passed}) before it changes anything, so a manifest that does not verify
 * stops it where it stopped it before.
 */
final class ActiveCheck {
    private final Long version;
    private final FutureTask<Optional<ModelSlots.Slot>> check;

    ActiveCheck(ModelSlots slots, TrustedKeys key) throws IOException {
        Optional<String> name = slots.getActiveName();
        this.version = name.isEmpty()
                ? null
                : slots.unchecked(name.get()).map(Manifest::version).orElse(null);
        this.check = new FutureTask<>(() -> slots.getActive(key));
        if (version == null) {
            check.run(); // nothing to check: no thread for it
            return;
        }
        Thread checking = new Thread(check, "outpost-active-check");
        checking.setDaemon(true);
        checking.start();
    }

    /** The active version, or {@code null} before the first install; trusted once {@link #passed}. */
    Long version() {
        return version;
    }

    /** Waits for the check: its failure as it was thrown (a manifest that does not verify, a failed read). */
    void passed() throws IOException {
        Long checked = Prefetch.result(check).map(s -> s.manifest().version()).orElse(null);
        if (!Objects.equals(checked, version)) {
            throw new OutpostException(
                    ErrorCode.INTERNAL, "the active version changed while this update read it; run the update again");
        }
    }
}
