package dev.outpost.device.model.reports;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.outpost.device.model.ArtifactLink;
import dev.outpost.device.store.ReportStore;
import dev.outpost.device.store.Transactions;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;

/**
 * Install reports to the service (docs/artifacts.md, "Reports"): queued in the same transaction as the outcome they
 * report (bounded by {@link ReportStore#REPORTS_MAX}), sent oldest first after each install and each sync.
 */
public final class InstallReports {
    /** Reports sent per flush at most; the rest wait for the next one. */
    public static final int PER_FLUSH = 64;

    private static final JsonFactory JSON = new JsonFactory();

    private final Transactions tx;
    private final ReportStore store;
    private final ArtifactLink client;

    public InstallReports(Transactions tx, ReportStore store, ArtifactLink client) {
        this.tx = tx;
        this.store = store;
        this.client = client;
    }

    /** Queues a report; runs inside the caller's transaction, with the outcome it reports. */
    public void queue(String artifact, Long from, long to, Long active, String outcome, String errorCode, long bytes) {
        store.queue(body(artifact, from, to, active, outcome, errorCode, bytes));
    }

    /** A report's JSON body (POST /v1/device/model-reports). */
    static String body(String artifact, Long from, long to, Long active, String outcome, String errorCode, long bytes) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("artifact", artifact);
            if (from != null) {
                g.writeNumberField("fromVersion", from);
            }
            g.writeNumberField("toVersion", to);
            if (active != null) {
                g.writeNumberField("activeVersion", active);
            }
            g.writeStringField("outcome", outcome);
            if (errorCode != null) {
                g.writeStringField("errorCode", errorCode);
            }
            g.writeNumberField("bytesDownloaded", bytes);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("JSON into memory failed", e);
        }
        return out.toString();
    }

    /**
     * Sends queued reports, oldest first, at most {@link #PER_FLUSH}. A report the service refuses for good (a 4xx
     * other than 408 and 429: it will never take it) is dropped and counted, so it cannot hold back the ones after it;
     * when the service cannot be reached or fails, the rest stay queued for the next time. Returns how many were
     * delivered.
     */
    public int flush() {
        int sent = 0;
        for (ReportStore.QueuedReport r : tx.inTransaction(() -> store.findOldest(PER_FLUSH))) {
            int status = client.postJson("v1/device/model-reports", r.body());
            boolean delivered = status / 100 == 2;
            boolean refused = status / 100 == 4 && status != 408 && status != 429;
            if (!delivered && !refused) {
                break;
            }
            tx.run(() -> store.delete(r.id(), refused));
            sent += delivered ? 1 : 0;
        }
        return sent;
    }

    /** {queued, dropped}. */
    public long[] counts() {
        return tx.inTransaction(() -> new long[] {store.count(), store.dropped()});
    }
}
