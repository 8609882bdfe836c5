package dev.outpost.device;

import dev.outpost.device.rows.RefusedChange;
import java.util.List;

/**
 * What {@code status} shows: who the device is, what waits to be pushed, what was refused, how the last sync went.
 *
 * @param lastSyncError empty when the last sync worked
 * @param clockOffsetMs 0, or minus how far the device's clock was found running ahead of the server's
 */
public record DeviceStatus(
        String deviceId,
        String server,
        List<String> scopes,
        long pending,
        List<RefusedChange> refused,
        String lastSyncAt,
        String lastSyncError,
        String cursor,
        long clockOffsetMs) {}
