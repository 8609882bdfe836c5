package dev.outpost.model.wire;

/** The two encodings of every wire message, chosen by HTTP content negotiation. */
public enum WireFormat {
    /** Readable JSON, for people, scripts and debugging. */
    JSON("application/json"),
    /** Dictionary-coded CBOR compressed with DEFLATE, for devices on metered links. */
    BINARY("application/vnd.outpost.v1+cbor");

    private final String mediaType;

    WireFormat(String mediaType) {
        this.mediaType = mediaType;
    }

    public String mediaType() {
        return mediaType;
    }
}
