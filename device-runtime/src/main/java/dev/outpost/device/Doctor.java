package dev.outpost.device;

import dev.outpost.device.home.DeviceHome;
import dev.outpost.device.model.ModelSlots;
import dev.outpost.device.store.ChangeLog;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.model.clock.Hlc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code outpost doctor}: checks the device's database page by page (SQLite's integrity check) and, asked to, rebuilds a
 * damaged one. The repair keeps what only this device has, its unsent changes (pending and refused, with their clocks
 * and batch ids), and its identity and settings; everything else (rows the service already holds, the sync cursor,
 * install progress) is fetched again by the next sync. The damaged file is kept beside the new one, renamed.
 */
public final class Doctor {
    private static final String[] SUFFIXES = {"", "-wal", "-shm"};

    /** Problems listed at most. */
    static final int PROBLEMS_MAX = 20;

    /**
     * Settings that describe the rows this database held, not the device: a rebuilt database starts without them, so
     * its first sync fetches everything from the start.
     */
    private static final Set<Setting> ABOUT_THE_ROWS = EnumSet.of(
            Setting.CURSOR,
            Setting.LAST_SYNC_AT,
            Setting.LAST_SYNC_ERROR,
            Setting.TYPED_TABLES,
            Setting.BACKFILL_FROM,
            Setting.BACKFILL_CURSOR);

    private Doctor() {}

    /** What the check found: nothing (the database is whole), or SQLite's own lines. */
    public record Check(Path database, List<String> problems) {
        public boolean whole() {
            return problems.isEmpty();
        }
    }

    /** What a repair kept. */
    public record Repair(int pending, int refused, Path damagedKeptAs) {}

    public static Check check(Path dir) {
        DeviceHome home = new DeviceHome(dir).requireSetUp();
        return new Check(
                home.database(),
                OutpostDevice.integrityProblems(
                        home.database(), home.databaseKeySource().key(), PROBLEMS_MAX));
    }

    /**
     * Rebuilds the database when the check finds it damaged (a whole one is left as it is: empty result). Reads the
     * unsent changes and the settings out of the damaged file first; if they cannot be read, nothing is changed
     * (exit 5) and the file stays for whoever can recover it by hand.
     */
    public static Optional<Repair> repair(Path dir) {
        DeviceHome home = new DeviceHome(dir).requireSetUp();
        home.lockDown();
        String key = home.databaseKeySource().key();
        Path file = home.database();
        if (OutpostDevice.integrityProblems(file, key, 1).isEmpty()) {
            return Optional.empty();
        }
        Salvage saved;
        try (OutpostDevice.Store damaged = OutpostDevice.openStore(file, key)) {
            ChangeLog log = damaged.log();
            Settings settings = damaged.settings();
            saved = damaged.tx().inTransaction(() -> {
                Map<Setting, String> kept = new EnumMap<>(Setting.class);
                for (Setting s : Setting.values()) {
                    if (!ABOUT_THE_ROWS.contains(s)) {
                        settings.get(s).ifPresent(v -> kept.put(s, v));
                    }
                }
                // The clock goes on from the newest this device ever stamped, sent or not: no new change may sort
                // before one it made already.
                Optional<Hlc> newest = log.newestClock().map(Hlc::parse);
                Optional<Hlc> clock =
                        Optional.ofNullable(kept.get(Setting.CLOCK)).map(Hlc::parse);
                if (newest.isPresent() && (clock.isEmpty() || newest.get().compareTo(clock.get()) > 0)) {
                    kept.put(Setting.CLOCK, newest.get().toString());
                }
                kept.put(Setting.REBUILD, "true");
                return new Salvage(kept, log.findUnsent());
            });
        } catch (DeviceException e) {
            throw new DeviceException(
                    ExitCode.STORAGE,
                    "cannot read the unsent changes and settings out of the damaged database (" + e.getMessage()
                            + "): nothing was changed; keep " + file + " for whoever recovers it by hand",
                    e);
        }
        if (!saved.settings().containsKey(Setting.DEVICE_ID)) {
            throw new DeviceException(
                    ExitCode.STORAGE,
                    "the damaged database does not say which device this is: nothing was changed; keep " + file);
        }
        // The new database is made whole beside the old one (settings and the unsent changes in its log), then takes
        // its place in one rename: a repair cut short leaves the damaged file in place, and runs again.
        Path rebuilt = file.resolveSibling(file.getFileName() + ".rebuilt");
        Path aside = file.resolveSibling(file.getFileName() + ".damaged-" + System.currentTimeMillis());
        try {
            for (String suffix : SUFFIXES) {
                Files.deleteIfExists(rebuilt.resolveSibling(rebuilt.getFileName() + suffix));
            }
            try (OutpostDevice.Store fresh = OutpostDevice.openStore(rebuilt, key)) {
                Settings settings = fresh.settings();
                ChangeLog log = fresh.log();
                fresh.tx().run(() -> {
                    saved.settings().forEach(settings::put);
                    for (ChangeLog.LoggedChange e : saved.unsent()) {
                        log.append(e.change());
                        long seq = log.getNewest().orElseThrow().seq();
                        if (e.refused()) {
                            log.markRefused(seq, e.code(), e.message());
                        } else if (e.batchId() != null) {
                            log.assignBatch(List.of(seq), e.batchId());
                        }
                    }
                });
            }
            // The damaged file and its write-ahead log are kept under another name (hard links: SQLite pairs them by
            // name); its log must not stay beside the new file, which SQLite would replay it onto.
            for (String suffix : SUFFIXES) {
                Path from = file.resolveSibling(file.getFileName() + suffix);
                if (Files.exists(from)) {
                    Files.createLink(aside.resolveSibling(aside.getFileName() + suffix), from);
                }
            }
            Files.deleteIfExists(file.resolveSibling(file.getFileName() + "-shm"));
            Files.deleteIfExists(file.resolveSibling(file.getFileName() + "-wal"));
            Files.move(rebuilt, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            // The swap is durable before the rows are touched: a power cut must not bring the damaged file back.
            ModelSlots.syncDirectory(file.getParent());
        } catch (IOException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot rebuild the database: " + e.getMessage(), e);
        }
        // Last, the rows: each pending change applied again over what the new database holds (nothing yet; the next
        // sync brings the service's rows, and merges them with these). Cut short here, the changes are still logged
        // and go out with the next sync, whose pull brings their rows back.
        List<ChangeLog.LoggedChange> pending =
                saved.unsent().stream().filter(e -> !e.refused()).toList();
        try (OutpostDevice device = OutpostDevice.open(dir)) {
            device.rows().applyUnsent(pending);
        }
        return Optional.of(new Repair(pending.size(), saved.unsent().size() - pending.size(), aside));
    }

    private record Salvage(Map<Setting, String> settings, List<ChangeLog.LoggedChange> unsent) {}
}
