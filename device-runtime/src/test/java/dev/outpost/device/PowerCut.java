package dev.outpost.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A simulated power cut over one directory (docs/RELIABILITY.md). The real {@code outpost} runs with
 * {@code src/test/c/powercut.c} preloaded, which logs how to undo each file operation under the directory before doing
 * it, and halts the process at a chosen operation. {@link #cut()} then does what losing power would: every write no
 * later fsync of its file made durable is undone, and every name (a file made, renamed or removed) no later fsync of
 * its directory made durable is put back; what the processes synced stays. The log spans processes: a write a
 * finished process never synced is lost too.
 */
final class PowerCut {
    private static Path library;

    final Path root;
    final Path log;
    private final Path shadow;

    /** What one cut undid. */
    record Undone(int writes, int names, long bytes) {}

    PowerCut(Path root, Path work) throws IOException {
        this.root = root.toRealPath();
        Files.createDirectories(work);
        this.log = work.toRealPath().resolve("power.log");
        this.shadow = work.toRealPath().resolve("power.log.shadow");
    }

    /** The shim, built once per run with the machine's C compiler into {@code target/}. */
    static synchronized Path library() throws IOException, InterruptedException {
        if (library == null) {
            Path out = Path.of("target/powercut.so").toAbsolutePath();
            Process gcc = new ProcessBuilder(
                            "gcc", "-O2", "-shared", "-fPIC", "-o", out.toString(), "src/test/c/powercut.c", "-ldl")
                    .redirectErrorStream(true)
                    .start();
            String output = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                throw new IOException("gcc could not build the power-cut shim: " + output);
            }
            library = out;
        }
        return library;
    }

    /** The environment of a process whose file operations are logged; it halts at operation {@code cutAt} (0: never). */
    Map<String, String> env(long cutAt) throws IOException, InterruptedException {
        Map<String, String> env = new HashMap<>(Map.of(
                "LD_PRELOAD", library().toString(),
                "OUTPOST_POWER_DIR", root.toString(),
                "OUTPOST_POWER_LOG", log.toString()));
        if (cutAt > 0) {
            env.put("OUTPOST_POWER_CUT_AT", Long.toString(cutAt));
        }
        return env;
    }

    /** Operations logged since the last cut. */
    long operations() throws IOException {
        return records().size();
    }

    /** Forgets the log: what is on disk now counts as durable (as after a clean shutdown and a sync of everything). */
    void settle() throws IOException {
        Files.deleteIfExists(log);
        deleteTree(shadow);
    }

    /** Loses power: undoes everything not made durable, newest first; the log starts anew. */
    Undone cut() throws IOException {
        List<ByteBuffer> records = records();
        Set<String> synced = new HashSet<>();
        List<ByteBuffer> data = new ArrayList<>();
        int names = 0;
        for (int i = records.size() - 1; i >= 0; i--) {
            ByteBuffer r = records.get(i);
            char type = (char) r.get();
            switch (type) {
                case 'S' -> synced.add(inode(r));
                case 'W', 'T' -> {
                    if (!synced.contains(inode(r.duplicate().order(ByteOrder.LITTLE_ENDIAN)))) {
                        data.add(r.rewind());
                    }
                }
                case 'R' -> {
                    String from = inode(r);
                    String to = inode(r);
                    Path a = Path.of(string(r));
                    Path b = Path.of(string(r));
                    String kept = string(r);
                    if (!synced.contains(from) || !synced.contains(to)) {
                        if (Files.exists(b, LinkOption.NOFOLLOW_LINKS)) {
                            Files.move(b, a);
                        }
                        if (!kept.isEmpty()) {
                            Files.createLink(b, Path.of(kept));
                        }
                        names++;
                    }
                }
                case 'C', 'M', 'L', 'U' -> {
                    String parent = inode(r);
                    Path path = Path.of(string(r));
                    String kept = string(r);
                    if (!synced.contains(parent)) {
                        if (type == 'U') {
                            if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                                Files.createLink(path, Path.of(kept));
                            }
                        } else {
                            deleteTree(path);
                        }
                        names++;
                    }
                }
                default -> throw new IOException("power log: unknown record " + type);
            }
        }
        // Data last, on the names as they are after the cut: a file is found by its inode wherever it now lives.
        Map<String, Path> byInode = new HashMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    byInode.put(inodeOf(p), p);
                }
            }
        }
        long bytes = 0;
        for (ByteBuffer r : data) {
            r.get(); // type
            Path file = byInode.get(inode(r));
            long offset = r.getLong();
            long size = r.getLong();
            byte[] old = new byte[r.getInt()];
            r.get(old);
            if (file == null) {
                continue; // a file whose name was lost with the power
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(old);
                while (b.hasRemaining()) {
                    ch.write(b, offset + b.position());
                }
                if (ch.size() > size) {
                    ch.truncate(size);
                }
            }
            bytes += old.length;
        }
        // SQLite's shared-memory index is written through a memory map, never synced, and rebuilt after a crash.
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.filter(p -> p.toString().endsWith("-shm")).toList()) {
                Files.delete(p);
            }
        }
        settle();
        return new Undone(data.size(), names, bytes);
    }

    /** The log, one operation per line (type, inode, path): for a failing seed's report. */
    String describe() throws IOException {
        StringBuilder out = new StringBuilder();
        for (ByteBuffer r : records()) {
            char type = (char) r.get();
            out.append(type).append(' ').append(inode(r));
            switch (type) {
                case 'W', 'T' ->
                    out.append(" at ").append(r.getLong()).append(" size ").append(r.getLong());
                case 'R' ->
                    out.append(' ')
                            .append(inode(r))
                            .append(' ')
                            .append(string(r))
                            .append(" -> ")
                            .append(string(r));
                case 'C', 'M', 'L', 'U' -> out.append(' ').append(string(r));
                default -> {}
            }
            out.append('\n');
        }
        return out.toString();
    }

    private List<ByteBuffer> records() throws IOException {
        List<ByteBuffer> out = new ArrayList<>();
        if (!Files.exists(log)) {
            return out;
        }
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(log)).order(ByteOrder.LITTLE_ENDIAN);
        while (all.remaining() >= 4) {
            int length = all.getInt();
            if (length > all.remaining()) {
                break; // the record the halt cut short: its operation never ran
            }
            if (length > 0) {
                out.add(all.slice(all.position(), length).order(ByteOrder.LITTLE_ENDIAN));
            }
            all.position(all.position() + length);
        }
        return out;
    }

    private static String inode(ByteBuffer r) {
        long dev = r.getLong();
        long ino = r.getLong();
        return dev + ":" + ino;
    }

    private static String inodeOf(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino", LinkOption.NOFOLLOW_LINKS);
        return a.get("dev") + ":" + a.get("ino");
    }

    private static String string(ByteBuffer r) {
        byte[] b = new byte[Short.toUnsignedInt(r.getShort())];
        r.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(p)) {
            for (Path q : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
