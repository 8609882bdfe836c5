package dev.outpost.model.artifact;

/**
 * One chunk of an artifact version.
 *
 * @param hash SHA-256 of the raw bytes, the chunk's address in the store
 * @param rawLength bytes of the chunk in the file
 * @param storedLength bytes of its zstd frame, what a device downloads to fetch it whole
 */
public record ChunkRef(Sha256 hash, int rawLength, int storedLength) {
    public ChunkRef {
        if (rawLength <= 0 || rawLength > FastCdc.MAX_BYTES) {
            throw new IllegalArgumentException("chunk length out of range: " + rawLength);
        }
        if (storedLength <= 0) {
            throw new IllegalArgumentException("stored length out of range: " + storedLength);
        }
    }
}
