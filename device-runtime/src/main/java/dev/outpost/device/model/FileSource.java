package dev.outpost.device.model;

import dev.outpost.model.artifact.ByteSource;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * A file's bytes, read by position: how a device holds a signed manifest (2.6 MB for a 4 GB model) without reading it
 * into memory. Each read opens the file and closes it again, so a source can be kept (in a {@code Manifest}) without
 * holding a descriptor; the file is the one that was there at {@link #open}, or the read fails: a file replaced
 * under the same name (a slot cleared and filled again) has another identity (device and inode, size, modification
 * time). Renaming the file does not change it, but a source reads by the name it was opened with. Thread-safe.
 */
public final class FileSource implements ByteSource {
    private final Path file;
    private final Identity identity;

    /**
     * Which file, as the file system tells them apart. Its equals and hashCode are written out: a record's own are
     * bootstrapped through method handles that no AOT cache holds, and every model update spun 17 classes for them at
     * its first manifest read (5-10 ms).
     */
    record Identity(Object fileKey, long size, long modifiedMs) {
        static Identity of(Path file) throws IOException {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return new Identity(a.fileKey(), a.size(), a.lastModifiedTime().toMillis());
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Identity i
                    && Objects.equals(fileKey, i.fileKey)
                    && size == i.size
                    && modifiedMs == i.modifiedMs;
        }

        @Override
        public int hashCode() {
            return (Objects.hashCode(fileKey) * 31 + Long.hashCode(size)) * 31 + Long.hashCode(modifiedMs);
        }
    }

    private FileSource(Path file, Identity identity) {
        this.file = file;
        this.identity = identity;
    }

    public static FileSource open(Path file) throws IOException {
        return new FileSource(file, Identity.of(file));
    }

    public Path file() {
        return file;
    }

    Identity identity() {
        return identity;
    }

    @Override
    public long size() {
        return identity.size();
    }

    @Override
    public void readFully(long position, byte[] into, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, into.length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            // Opened first, then compared: whatever was replaced, before the open or after it, fails the comparison.
            if (!Identity.of(file).equals(identity)) {
                throw new IOException(file + " changed since it was read (another file under its name)");
            }
            ByteBuffer b = ByteBuffer.wrap(into, offset, length);
            while (b.hasRemaining()) {
                if (ch.read(b, position + (b.position() - offset)) < 0) {
                    throw new EOFException(file + " ends before byte " + (position + length));
                }
            }
        }
    }
}
