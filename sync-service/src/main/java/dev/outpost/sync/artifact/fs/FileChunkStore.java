package dev.outpost.sync.artifact.fs;

import dev.outpost.model.artifact.Sha256;
import dev.outpost.sync.artifact.ChunkStore;
import dev.outpost.sync.artifact.RangeStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

/**
 * {@link ChunkStore} on a local or mounted file system: {@code ROOT/chunks/ab/abcd...} and
 * {@code ROOT/deltas/ab/abcd...}. A blob is written to a temporary file, fsynced, then renamed into place, so a
 * crash leaves either the whole blob or a stray temporary file (ignored, and removable at any time).
 */
public final class FileChunkStore implements ChunkStore {
    private final Path root;

    public FileChunkStore(Path root) throws IOException {
        this.root = root;
        for (Kind kind : Kind.values()) {
            Files.createDirectories(root.resolve(dir(kind)));
        }
        Files.createDirectories(root.resolve("tmp"));
    }

    @Override
    public boolean put(Kind kind, Sha256 hash, byte[] bytes) throws IOException {
        return store(kind, hash, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(false);
            }
        });
    }

    @Override
    public boolean putFile(Kind kind, Sha256 hash, Path file) throws IOException {
        return store(kind, hash, tmp -> {
            Files.copy(file, tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(false);
            }
        });
    }

    private interface Writing {
        void to(Path tmp) throws IOException;
    }

    /** Writes a temporary file (synced), then renames it into place: the blob is whole or absent. */
    private boolean store(Kind kind, Sha256 hash, Writing writing) throws IOException {
        Path target = path(kind, hash);
        if (Files.exists(target)) {
            return false;
        }
        Files.createDirectories(target.getParent());
        Path tmp = root.resolve("tmp").resolve(hash.hex() + "." + UUID.randomUUID());
        writing.to(tmp);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
            // Another writer stored the same content first: same bytes, nothing to do.
            Files.deleteIfExists(tmp);
            return false;
        }
    }

    @Override
    public boolean contains(Kind kind, Sha256 hash) {
        return Files.exists(path(kind, hash));
    }

    @Override
    public java.util.OptionalLong length(Kind kind, Sha256 hash) throws IOException {
        try {
            return java.util.OptionalLong.of(Files.size(path(kind, hash)));
        } catch (NoSuchFileException e) {
            return java.util.OptionalLong.empty();
        }
    }

    @Override
    public Optional<byte[]> read(Kind kind, Sha256 hash) throws IOException {
        try {
            return Optional.of(Files.readAllBytes(path(kind, hash)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<Blob> blob(Kind kind, Sha256 hash) throws IOException {
        Path p = path(kind, hash);
        long size;
        try {
            size = Files.size(p);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        return Optional.of(new Blob(size, Optional.of(p), (first, count) -> {
            FileChannel ch = FileChannel.open(p, StandardOpenOption.READ);
            ch.position(first);
            return new RangeStream(Channels.newInputStream(ch), count);
        }));
    }

    @Override
    public void delete(Kind kind, Sha256 hash) throws IOException {
        Files.deleteIfExists(path(kind, hash));
    }

    @Override
    public void forEach(Kind kind, BlobVisitor visitor) throws IOException {
        try (var files = Files.walk(root.resolve(dir(kind)), 2)) {
            for (var it = files.iterator(); it.hasNext(); ) {
                Path p = it.next();
                String name = p.getFileName().toString();
                if (Sha256.isHex(name) && Files.isRegularFile(p)) {
                    visitor.visit(Sha256.parse(name));
                }
            }
        }
    }

    @Override
    public String toString() {
        return root.toString();
    }

    private Path path(Kind kind, Sha256 hash) {
        String hex = hash.hex();
        return root.resolve(dir(kind)).resolve(hex.substring(0, 2)).resolve(hex);
    }

    private static String dir(Kind kind) {
        return kind.name().toLowerCase(Locale.ROOT) + "s";
    }
}
