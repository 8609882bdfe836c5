package dev.outpost.device.sync;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.clock.DeviceClock;
import dev.outpost.device.model.ArtifactLink;
import dev.outpost.device.rows.RowStates;
import dev.outpost.device.store.Settings;
import dev.outpost.device.store.Settings.Setting;
import dev.outpost.device.store.Transactions;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.change.Change;
import dev.outpost.model.clock.HybridClock;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.schema.Schema;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A fresh device's first way in (docs/protocol.md, "Snapshots"): instead of replaying its scopes' whole feed, it
 * fetches each scope's latest snapshot (resuming a cut download), checks it against its SHA-256, and installs every
 * row in one transaction, with the lowest of the snapshots' cursors as its own; the sync that follows pulls the feed
 * from there. A row it does not hold is stored as it came (with its typed row, and one changes-feed reset for all). A
 * row it holds becomes the snapshot's row with this device's unaccepted changes applied again, so nothing local is
 * lost and nothing the service has collected since (RowGc) comes back, as a join with the row held could.
 */
public final class SnapshotBootstrap {
    /** A snapshot is refused past this size (a scope of tens of millions of rows belongs to a server, not here). */
    static final long BYTES_MAX = 4L << 30;

    private final ArtifactLink lister;
    private final ArtifactLink link;
    private final Path dir;
    private final Schema schema;
    private final Transactions tx;
    private final RowStates states;
    private final Settings settings;
    private final DeviceClock clock;
    private final Supplier<Map<String, List<Change>>> unsent;

    /**
     * {@code lister} asks for the list once (no answer: no snapshot now, and the sync that follows says what is wrong
     * with the link); {@code link} fetches the files, resuming cut downloads.
     */
    public SnapshotBootstrap(
            ArtifactLink lister,
            ArtifactLink link,
            Path dir,
            Schema schema,
            Transactions tx,
            RowStates states,
            Settings settings,
            DeviceClock clock,
            Supplier<Map<String, List<Change>>> unsent) {
        this.lister = lister;
        this.link = link;
        this.dir = dir;
        this.schema = schema;
        this.tx = tx;
        this.states = states;
        this.settings = settings;
        this.clock = clock;
        this.unsent = unsent;
    }

    /** What was installed. */
    public record Installed(List<String> scopes, long rows, String cursor) {}

    record Listed(String scope, String sha256, String cursor, long bytes, int schemaVersion) {}

    /**
     * Installs the snapshots of this device's scopes when it has never pulled; empty when it has, or the service has
     * none or cannot say (the feed path then). A file that fails to arrive whole is exit 3: nothing was installed, and
     * the next sync asks again.
     */
    public Optional<Installed> runIfFresh() {
        if (settings.get(Setting.CURSOR).isPresent()) {
            return Optional.empty();
        }
        String answer;
        try {
            answer = lister.getJson("/v1/snapshots");
        } catch (DeviceException e) {
            return Optional.empty(); // unreachable, untrusted, or a service from before snapshots: the feed path
        }
        return fetchAndInstall(answer, false);
    }

    /**
     * Installs the snapshots of this device's scopes over what it holds, whatever its cursor (the service compacted
     * its feed past it): every row it holds is rebuilt on the snapshot's, pending changes stay pending, a backfill in
     * progress is done (the snapshot holds every field of this schema version), and the cursor becomes the
     * snapshots'. Empty when the service has no snapshot of this device's schema version; an unreachable service is
     * exit 3.
     */
    public Optional<Installed> rejoin() {
        return fetchAndInstall(link.getJson("/v1/snapshots"), true);
    }

    private Optional<Installed> fetchAndInstall(String answer, boolean rejoin) {
        List<Listed> listed = list(answer);
        if (listed.isEmpty() || listed.stream().anyMatch(l -> l.schemaVersion() != schema.version())) {
            // None yet, or of another schema version than this device runs: the feed converts, a snapshot does not.
            return Optional.empty();
        }
        try {
            Files.createDirectories(dir);
            List<Path> files = new ArrayList<>();
            for (Listed l : listed) {
                if (l.bytes() > BYTES_MAX) {
                    throw new DeviceException(
                            ExitCode.REFUSED,
                            "the snapshot of " + l.scope() + " is " + l.bytes() + " bytes: too large");
                }
                Path file = dir.resolve(l.sha256() + ".snapshot");
                // Named by its hash: what an earlier sync fetched of it is kept, and the rest asked for.
                link.resumeTo("/v1/snapshots/" + l.sha256(), l.bytes(), file);
                Sha256 arrived;
                try (InputStream in = Files.newInputStream(file)) {
                    arrived = Sha256.digest(in);
                }
                if (!Sha256.parse(l.sha256()).equals(arrived)) {
                    Files.deleteIfExists(file);
                    throw new DeviceException(
                            ExitCode.UNREACHABLE,
                            "the snapshot of " + l.scope() + " arrived damaged (its SHA-256 differs); sync again");
                }
                files.add(file);
            }
            Installed installed = install(listed, files, rejoin);
            // These files, and any a sync killed mid-download left.
            try (var left = Files.list(dir)) {
                for (Path f : left.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            return Optional.of(installed);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep a snapshot in " + dir + ": " + e.getMessage(), e);
        }
    }

    private Installed install(List<Listed> listed, List<Path> files, boolean rejoin) {
        return tx.inBulkTransaction(() -> {
            if (!rejoin && settings.get(Setting.CURSOR).isPresent()) {
                throw new IllegalStateException("another sync pulled meanwhile");
            }
            long rows;
            long bulk;
            HybridClock now = clock.current();
            // The rows held here (a fresh device has a handful written before its first sync), and the changes of
            // theirs the service has not accepted (by table/id).
            Set<String> local = states.keys();
            Map<String, List<Change>> mine = unsent.get();
            try (SnapshotDecoding decoding = new SnapshotDecoding(
                    files, listed.stream().map(Listed::scope).toList(), schema, states, local, now)) {
                // A device holding no row has empty typed tables: their indexes are built once, at the end.
                bulk = local.isEmpty()
                        ? states.indexesBuiltAfter(() -> saveAll(decoding, mine))
                        : saveAll(decoding, mine);
                rows = decoding.rows();
            }
            clock.save(now.last());
            String cursor = lowest(listed.stream().map(Listed::cursor).toList());
            settings.put(Setting.CURSOR, cursor);
            if (rejoin) {
                settings.put(Setting.BACKFILL_FROM, "");
                settings.put(Setting.BACKFILL_CURSOR, "");
            }
            if (bulk > 0) {
                states.resetFeed(); // the rows saved as they came have no feed entries: readers start again
            }
            states.pruneFeed();
            return new Installed(listed.stream().map(Listed::scope).toList(), rows, cursor);
        });
    }

    /**
     * Saves every decoded row: those held here rebuilt with their unaccepted changes, the others in bulk; returns how
     * many were saved in bulk.
     */
    private long saveAll(SnapshotDecoding decoding, Map<String, List<Change>> mine) {
        long bulk = 0;
        for (SnapshotDecoding.Batch b; (b = decoding.next()) != null; ) {
            for (SnapshotDecoding.Held h : b.held()) {
                // The service's row as it is, with this device's unaccepted changes on it again: not a join with the
                // row held, which may hold what the service has since collected (RowGc) and would bring it back.
                RowState rebuilt = h.theirs();
                for (Change c : mine.getOrDefault(h.key(), List.of())) {
                    rebuilt = RowMerge.apply(h.table(), rebuilt, c).row();
                }
                states.resetBase(h.theirs());
                states.save(rebuilt);
            }
            states.saveReceived(b.fresh());
            bulk += b.fresh().size();
        }
        return bulk;
    }

    /** The cursor the feed must start from for every scope: the lowest ({@code xid:pos}, compared as numbers). */
    static String lowest(List<String> cursors) {
        String low = null;
        long[] lowParts = null;
        for (String c : cursors) {
            String[] p = c.split(":");
            long[] parts = {Long.parseLong(p[0]), Long.parseLong(p[1])};
            if (low == null || parts[0] < lowParts[0] || parts[0] == lowParts[0] && parts[1] < lowParts[1]) {
                low = c;
                lowParts = parts;
            }
        }
        return low;
    }

    /** Parses {@code {"snapshots": [{"scope", "sha256", "cursor", "bytes", ...}]}}. */
    static List<Listed> list(String json) {
        List<Listed> out = new ArrayList<>();
        try (JsonParser p = new JsonFactory().createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("not an object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String top = p.currentName();
                JsonToken value = p.nextToken();
                if (!top.equals("snapshots") || value != JsonToken.START_ARRAY) {
                    p.skipChildren();
                    continue;
                }
                while (p.nextToken() == JsonToken.START_OBJECT) {
                    String scope = null, sha = null, cursor = null;
                    long bytes = -1;
                    int schemaVersion = -1;
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        p.nextToken();
                        switch (name) {
                            case "scope" -> scope = p.getText();
                            case "sha256" -> sha = p.getText();
                            case "cursor" -> cursor = p.getText();
                            case "bytes" -> bytes = p.getLongValue();
                            case "schemaVersion" -> schemaVersion = p.getIntValue();
                            default -> p.skipChildren();
                        }
                    }
                    out.add(new Listed(scope, sha, cursor, bytes, schemaVersion));
                }
            }
        } catch (IOException e) {
            throw new DeviceException(ExitCode.UNREACHABLE, "the service's snapshot list could not be read", e);
        }
        for (Listed l : out) {
            if (l.scope() == null || !Sha256.isHex(l.sha256()) || l.cursor() == null || l.bytes() < 0) {
                throw new DeviceException(ExitCode.UNREACHABLE, "the service's snapshot list is incomplete: " + json);
            }
        }
        return out;
    }
}
