package dev.outpost.device.model;

import dev.outpost.model.artifact.Manifest;
import dev.outpost.model.artifact.Sha256;
import dev.outpost.model.artifact.SignedEnvelope;
import dev.outpost.model.artifact.TrustedKeys;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The two install slots of one artifact on disk: {@code models/NAME/a} and {@code models/NAME/b}, each a
 * {@code model.bin} and its signed {@code manifest}, and {@code current}, a symbolic link to the active slot. The
 * link is the only thing that says which version runs, and it changes by one atomic rename, so a power cut leaves
 * either the old or the new slot active; a slot is only linked once its file and manifest are complete and synced.
 * While a version downloads into a slot, its signed manifest waits there as {@code manifest.partial} beside
 * {@code model.bin.partial}. Manifests are read from their files as they are used ({@link FileSource}), never whole.
 */
public final class ModelSlots {
    public static final String MODEL_FILE = "model.bin";
    static final String MANIFEST_FILE = "manifest";
    static final String PARTIAL = "model.bin.partial";
    static final String PARTIAL_MANIFEST = "manifest.partial";
    private static final String[] SLOTS = {"a", "b"};

    private final Path dir;

    public ModelSlots(Path modelsRoot, String artifact) {
        this.dir = modelsRoot.resolve(artifact);
    }

    /** A slot that holds a complete version, with its verified manifest. */
    public record Slot(String name, Path file, Manifest manifest) {}

    public Path dir() {
        return dir;
    }

    /** The linked slot's name, or empty before the first install. */
    public Optional<String> getActiveName() throws IOException {
        Path link = dir.resolve("current");
        if (!Files.isSymbolicLink(link)) {
            return Optional.empty();
        }
        return Optional.of(Files.readSymbolicLink(link).toString());
    }

    public String inactiveName() throws IOException {
        return getActiveName().map(n -> n.equals("a") ? "b" : "a").orElse("a");
    }

    /** The slot's version if its manifest is there and verifies with {@code key}; the file itself is not read. */
    public Optional<Slot> getSlot(String name, TrustedKeys key) throws IOException {
        Optional<Path> manifest = completeManifest(name);
        return manifest.isEmpty()
                ? Optional.empty()
                : Optional.of(new Slot(name, dir.resolve(name).resolve(MODEL_FILE), read(manifest.get(), key)));
    }

    /** Slot {@code name}'s manifest file if the slot holds a complete version (its manifest and its file). */
    private Optional<Path> completeManifest(String name) {
        Path manifest = dir.resolve(name).resolve(MANIFEST_FILE);
        return Files.exists(manifest, LinkOption.NOFOLLOW_LINKS)
                        && Files.exists(dir.resolve(name).resolve(MODEL_FILE))
                ? Optional.of(manifest)
                : Optional.empty();
    }

    /**
     * The manifest in the signed envelope {@code file}, verified with the key {@code keys} holds for it unless this process verified that
     * very file (same identity, whatever its name now) with it before. Read from the file as it is used.
     */
    static Manifest read(Path file, TrustedKeys keys) throws IOException {
        FileSource source = FileSource.open(file);
        SignedEnvelope.Stored signed = SignedEnvelope.stored(source);
        PublicKey key = keys.key(signed.keyId());
        if (!key.equals(VERIFIED.get(source.identity()))) {
            signed.verify(Manifest.PAYLOAD_TYPE, key);
            if (VERIFIED.size() >= VERIFIED_MAX) {
                VERIFIED.clear(); // a long-running worker installs version after version: forget the old ones
            }
            VERIFIED.put(source.identity(), key);
        }
        return Manifest.of(signed);
    }

    /**
     * Manifest files this process has verified, and with which key: an install reads each manifest several times (the
     * target's under three names: fetched, pending, complete), and every Ed25519 verification hashes the whole
     * manifest again (SHA-512, 1.2 MB at 2 GB) and redoes the curve arithmetic, enough to make the JIT compile both.
     * A file replaced or modified has another identity; a renamed one keeps its own.
     */
    private static final Map<FileSource.Identity, PublicKey> VERIFIED = new ConcurrentHashMap<>();

    /** Files {@link #VERIFIED} remembers at most: two slots and an install's target under its names, several times. */
    private static final int VERIFIED_MAX = 16;

    public Optional<Slot> getActive(TrustedKeys key) throws IOException {
        Optional<String> name = getActiveName();
        return name.isEmpty() ? Optional.empty() : getSlot(name.get(), key);
    }

    public Optional<Slot> getKept(TrustedKeys key) throws IOException {
        return getActiveName().isEmpty() ? Optional.empty() : getSlot(inactiveName(), key);
    }

    /**
     * The manifest of the version in slot {@code name} if the slot is complete, read without checking its signature:
     * a look before {@link #getSlot}, which checks it (an Ed25519 check in a process started for one update takes
     * 10-19 ms, the curve arithmetic still interpreted).
     */
    Optional<Manifest> unchecked(String name) throws IOException {
        Optional<Path> manifest = completeManifest(name);
        return manifest.isEmpty()
                ? Optional.empty()
                : Optional.of(Manifest.of(SignedEnvelope.stored(FileSource.open(manifest.get()))));
    }

    /**
     * Whether the kept slot holds version {@code version} with the manifest whose digest is {@code digest} (what a
     * verified assignment names), looked at {@link #unchecked}: an update rarely goes back to the kept version, and
     * {@link #getKept} checks its manifest when it does.
     */
    boolean keptIs(long version, Sha256 digest) throws IOException {
        if (getActiveName().isEmpty()) {
            return false;
        }
        return unchecked(inactiveName())
                .filter(m -> m.version() == version && m.digest().equals(digest))
                .isPresent();
    }

    Path staging(String slot) {
        return dir.resolve(slot).resolve(PARTIAL);
    }

    /**
     * The signed manifest of the version in {@code slot}, or on its way there: {@code manifest.partial} until
     * {@link #complete}, {@code manifest} after it.
     */
    Path manifestOf(String slot) {
        Path pending = dir.resolve(slot).resolve(PARTIAL_MANIFEST);
        return Files.exists(pending, LinkOption.NOFOLLOW_LINKS)
                ? pending
                : dir.resolve(slot).resolve(MANIFEST_FILE);
    }

    /** Empties a slot for a new version: the manifest goes first, so a half-cleared slot never looks complete. */
    void clear(String slot) throws IOException {
        Path s = dir.resolve(slot);
        Files.createDirectories(s);
        Files.deleteIfExists(s.resolve(MANIFEST_FILE));
        syncDirectory(s);
        Files.deleteIfExists(s.resolve(MODEL_FILE));
        Files.deleteIfExists(s.resolve(PARTIAL));
        Files.deleteIfExists(s.resolve(PARTIAL_MANIFEST));
    }

    /** Bytes the slot's files take now (freed when it is cleared for a new version). */
    long sizeOf(String slot) throws IOException {
        long total = 0;
        for (String f : new String[] {MANIFEST_FILE, MODEL_FILE, PARTIAL, PARTIAL_MANIFEST}) {
            Path p = dir.resolve(slot).resolve(f);
            if (Files.exists(p)) {
                total += Files.size(p);
            }
        }
        return total;
    }

    /**
     * Moves the signed manifest of the version about to download into the (cleared) slot as its pending manifest;
     * {@code fetched} is a synced file in this artifact's directory.
     */
    void receive(String slot, Path fetched) throws IOException {
        Path s = dir.resolve(slot);
        Files.move(fetched, s.resolve(PARTIAL_MANIFEST), StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(s);
        syncDirectory(dir);
    }

    /**
     * Writes {@code envelope} as the slot's pending manifest, unless the slot has one (pending or complete): for an
     * install recorded by a runtime that kept the manifest in the install record.
     */
    void receive(String slot, byte[] envelope) throws IOException {
        Path s = dir.resolve(slot);
        if (Files.exists(s.resolve(PARTIAL_MANIFEST)) || Files.exists(s.resolve(MANIFEST_FILE))) {
            return;
        }
        Files.createDirectories(s);
        Path tmp = s.resolve(PARTIAL_MANIFEST + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(envelope);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, s.resolve(PARTIAL_MANIFEST), StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(s);
    }

    /**
     * Turns a complete, synced staging file into the slot's version: the file first, then the manifest (both by
     * rename). Does nothing to a slot that is complete already.
     */
    void complete(String slot) throws IOException {
        Path s = dir.resolve(slot);
        if (Files.exists(s.resolve(PARTIAL))) {
            Files.move(s.resolve(PARTIAL), s.resolve(MODEL_FILE), StandardCopyOption.ATOMIC_MOVE);
        }
        if (Files.exists(s.resolve(PARTIAL_MANIFEST))) {
            Files.move(s.resolve(PARTIAL_MANIFEST), s.resolve(MANIFEST_FILE), StandardCopyOption.ATOMIC_MOVE);
        }
        syncDirectory(s);
    }

    /** Links {@code slot} as current: a new link renamed over the old one, then the directory synced. */
    void activate(String slot) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve("current.tmp");
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, Path.of(slot));
        Files.move(tmp, dir.resolve("current"), StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(dir);
    }

    /**
     * Whether the file's SHA-256 is the manifest's, read through in 256 KiB pieces (each read also passes through a
     * direct buffer of the same size that the JDK keeps per thread: larger pieces are resident memory, not speed).
     */
    public static boolean verifies(Path file, Manifest m) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() != m.size()) {
                return false;
            }
            MessageDigest md = Sha256.newDigest();
            ByteBuffer buf = ByteBuffer.allocate(256 * 1024);
            while (ch.read(buf) > 0) {
                buf.flip();
                md.update(buf);
                buf.clear();
            }
            return Sha256.of(md.digest()).equals(m.sha256());
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    /** Opens the file and checks its size and its first and last chunks against the manifest. */
    static boolean loads(Path file, Manifest m) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() != m.size()) {
                return false;
            }
            if (m.chunkCount() == 0) {
                return true;
            }
            for (int i : new int[] {0, m.chunkCount() - 1}) {
                ByteBuffer b = ByteBuffer.allocate(m.rawLength(i));
                while (b.hasRemaining() && ch.read(b, m.offset(i) + b.position()) > 0) {
                    // read on
                }
                if (b.hasRemaining() || !Sha256.digest(b.array()).equals(m.hash(i))) {
                    return false;
                }
            }
            return true;
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    /** Makes the names in {@code d} durable (an fsync of the directory): after a rename, before counting on it. */
    public static void syncDirectory(Path d) throws IOException {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
