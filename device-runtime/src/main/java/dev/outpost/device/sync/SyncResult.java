package dev.outpost.device.sync;

/**
 * What one sync did.
 *
 * @param orphans pulled rows whose parent row is missing on this device (reported, kept)
 * @param restamped changes re-stamped because the device's clock ran ahead of the server's
 */
public record SyncResult(int pushed, int pulled, int refused, int conflictsOpened, int orphans, int restamped) {}
