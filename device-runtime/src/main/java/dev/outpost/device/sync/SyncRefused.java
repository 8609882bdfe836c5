package dev.outpost.device.sync;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;

/** Some changes were set aside as refused; the rest synced (exit code 4). */
public final class SyncRefused extends DeviceException {
    private final transient SyncResult result;

    public SyncRefused(SyncResult result) {
        super(
                ExitCode.REFUSED,
                result.refused() + " change(s) refused by the server and kept aside; see 'outpost refused'");
        this.result = result;
    }

    public SyncResult result() {
        return result;
    }
}
