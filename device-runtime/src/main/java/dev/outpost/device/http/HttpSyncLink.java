package dev.outpost.device.http;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.device.sync.Problem;
import dev.outpost.device.sync.SyncLink;
import dev.outpost.model.OutpostException;
import dev.outpost.model.wire.SyncRequest;
import dev.outpost.model.wire.WireCodec;
import dev.outpost.model.wire.WireFormat;

/**
 * {@link SyncLink} over HTTP: {@code POST /v1/sync} in the binary encoding (docs/protocol.md), {@code GET
 * /v1/device/schema}.
 */
public final class HttpSyncLink implements SyncLink {
    private final SyncTransport transport;
    private final WireCodec codec;

    public HttpSyncLink(SyncTransport transport, WireCodec codec) {
        this.transport = transport;
        this.codec = codec;
    }

    @Override
    public Reply exchange(SyncRequest request) {
        SyncTransport.Answer answer =
                transport.post("v1/sync", WireFormat.BINARY.mediaType(), codec.encode(request, WireFormat.BINARY));
        if (answer.status() == 200) {
            try {
                return new Reply.Accepted(
                        codec.decodeResponse(answer.body(), WireFormat.BINARY), answer.schemaVersion());
            } catch (OutpostException e) {
                throw new DeviceException(
                        ExitCode.UNREACHABLE, "the server's answer could not be read: " + e.getMessage(), e);
            }
        }
        if (answer.status() >= 500) {
            return new Reply.Failed(answer.status());
        }
        return new Reply.Refused(Problem.parse(answer.status(), answer.body()));
    }

    @Override
    public String currentSchema() {
        SyncTransport.Answer answer = transport.get("v1/device/schema");
        if (answer.status() != 200) {
            throw new DeviceException(
                    ExitCode.UNREACHABLE,
                    "the server did not give its schema (" + answer.status() + "); this device stays on its own");
        }
        return new String(answer.body(), java.nio.charset.StandardCharsets.UTF_8);
    }
}
