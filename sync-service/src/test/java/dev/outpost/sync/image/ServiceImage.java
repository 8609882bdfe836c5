package dev.outpost.sync.image;

import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.TarImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import com.google.cloud.tools.jib.api.buildplan.FilePermissionsProvider;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import com.google.cloud.tools.jib.api.buildplan.Port;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;

/**
 * The sync service's container image, built without a daemon or a registry: Jib (the library) writes an OCI image
 * tarball from scratch, with four layers from least to most often changed: the C libraries the JDK links against
 * (taken from the build machine, as {@code ldd} names them, with a passwd naming user 10001), a jlink'ed JDK 25
 * runtime, the service's dependencies ({@code quarkus-app/lib}), and the service itself. No shell, no package manager:
 * nothing in the image but what the service runs on. Reproducible: every file is dated a second past the epoch (Jib's fixed time) and the image at the epoch.
 *
 * <p>{@code ./mvnw -pl sync-service -am package -DskipTests -Pimage} writes {@code target/outpost-sync-image.tar};
 * {@code podman load -i} or {@code skopeo copy oci-archive:...} take it from there. {@code ImageIT} builds and starts
 * it.
 */
public final class ServiceImage {
    /** What the service needs of the JDK (and jcmd for diagnostics in a running pod). */
    static final List<String> MODULES = List.of(
            "java.base",
            "java.desktop", // java.beans, which Jackson and SnakeYAML look for
            "java.instrument",
            "java.logging",
            "java.management",
            "java.management.rmi",
            "java.naming",
            "java.net.http",
            "java.prefs",
            "java.rmi", // javax.transaction's exceptions extend java.rmi.RemoteException
            "java.scripting",
            "java.security.jgss",
            "java.security.sasl",
            "java.sql",
            "java.transaction.xa",
            "java.xml",
            "java.xml.crypto",
            "jdk.crypto.cryptoki",
            "jdk.jcmd",
            "jdk.jfr",
            "jdk.management",
            "jdk.management.jfr",
            "jdk.naming.dns",
            "jdk.net",
            "jdk.unsupported",
            "jdk.zipfs");

    public static final String NAME = "outpost/sync-service:0.1.0";
    static final String JAVA = "/opt/java";
    static final String APP = "/app";
    static final int USER = 10001;

    private ServiceImage() {}

    public static void main(String[] args) throws Exception {
        Path quarkusApp = Path.of(args.length > 0 ? args[0] : "target/quarkus-app");
        Path out = Path.of(args.length > 1 ? args[1] : "target/outpost-sync-image.tar");
        build(quarkusApp, out, Path.of("target/image-work"));
        System.out.println("image " + NAME + " written to " + out.toAbsolutePath());
    }

    /** Writes the image tarball {@code out} from the packaged service; {@code work} is scratch space. */
    public static void build(Path quarkusApp, Path out, Path work) throws Exception {
        if (!Files.isRegularFile(quarkusApp.resolve("quarkus-run.jar"))) {
            throw new IllegalStateException("package the service first: no " + quarkusApp.resolve("quarkus-run.jar"));
        }
        Path runtime = work.resolve("jre");
        deleteTree(runtime);
        Files.createDirectories(work);
        jlink(runtime);
        Path etc = work.resolve("etc");
        Files.createDirectories(etc);
        Files.writeString(
                etc.resolve("passwd"),
                "root:x:0:0:root:/root:/sbin/nologin\noutpost:x:" + USER + ":" + USER
                        + ":outpost:/app:/sbin/nologin\n");
        Files.writeString(etc.resolve("group"), "root:x:0:\noutpost:x:" + USER + ":\n");

        FileEntriesLayer.Builder system = FileEntriesLayer.builder().setName("system libraries");
        for (Path lib : sharedLibraries(runtime)) {
            // The real file at the path the loader asks for (symbolic links resolved).
            system.addEntry(
                    lib.toRealPath(), AbsoluteUnixPath.get(lib.toString()), FilePermissions.fromOctalString("755"));
        }
        system.addEntry(etc.resolve("passwd"), AbsoluteUnixPath.get("/etc/passwd"));
        system.addEntry(etc.resolve("group"), AbsoluteUnixPath.get("/etc/group"));
        // Scratch for the JVM, Vert.x and zstd's native library, writable by the service's user (k8s mounts an
        // emptyDir over it besides, with the root file system read-only).
        Path tmp = Files.createDirectories(work.resolve("tmp"));
        system.addEntry(tmp, AbsoluteUnixPath.get("/tmp"), FilePermissions.fromOctalString("777"));

        FileEntriesLayer.Builder dependencies = FileEntriesLayer.builder().setName("dependencies");
        dependencies.addEntryRecursive(quarkusApp.resolve("lib"), AbsoluteUnixPath.get(APP + "/lib"));
        FileEntriesLayer.Builder service = FileEntriesLayer.builder().setName("service");
        for (String part : List.of("app", "quarkus", "quarkus-run.jar", "quarkus-app-dependencies.txt")) {
            Path p = quarkusApp.resolve(part);
            if (Files.exists(p)) {
                service.addEntryRecursive(p, AbsoluteUnixPath.get(APP + "/" + part));
            }
        }

        Files.deleteIfExists(out);
        Jib.fromScratch()
                .setFormat(ImageFormat.OCI)
                .addFileEntriesLayer(system.build())
                .addFileEntriesLayer(FileEntriesLayer.builder()
                        .setName("java runtime")
                        .addEntryRecursive(runtime, AbsoluteUnixPath.get(JAVA), keepModes())
                        .build())
                .addFileEntriesLayer(dependencies.build())
                .addFileEntriesLayer(service.build())
                .setEntrypoint(JAVA + "/bin/java", "-jar", APP + "/quarkus-run.jar")
                .addEnvironmentVariable("JAVA_HOME", JAVA)
                .addEnvironmentVariable("LANG", "C.UTF-8")
                .setWorkingDirectory(AbsoluteUnixPath.get(APP))
                .setUser(USER + ":" + USER)
                .addExposedPort(Port.tcp(8080))
                .addExposedPort(Port.tcp(9000))
                .addLabel("org.opencontainers.image.title", "outpost-sync")
                .addLabel("org.opencontainers.image.version", "0.1.0")
                .setCreationTime(Instant.EPOCH)
                .containerize(Containerizer.to(TarImage.at(out).named(NAME))
                        .setOfflineMode(true)
                        .setApplicationLayersCache(work.resolve("jib-cache"))
                        .setBaseImageLayersCache(work.resolve("jib-cache"))
                        .setToolName("outpost-image"));
    }

    private static void jlink(Path runtime) throws IOException {
        ToolProvider jlink = ToolProvider.findFirst("jlink")
                .orElseThrow(() ->
                        new IllegalStateException("jlink needs a JDK, not a JRE: " + System.getProperty("java.home")));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (PrintStream p = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            int rc = jlink.run(
                    p,
                    p,
                    "--add-modules",
                    String.join(",", MODULES),
                    "--strip-debug",
                    "--no-header-files",
                    "--no-man-pages",
                    "--compress",
                    "zip-6",
                    "--output",
                    runtime.toString());
            if (rc != 0) {
                throw new IOException("jlink failed (" + rc + "): " + log.toString(StandardCharsets.UTF_8));
            }
        }
    }

    private static final Pattern LDD_PATH = Pattern.compile("(?:=>\\s*)?(/\\S+)\\s+\\(0x");

    /** Every shared library the runtime's executables and libraries load, and the loader, as {@code ldd} says. */
    static Set<Path> sharedLibraries(Path runtime) throws IOException, InterruptedException {
        List<String> objects = new ArrayList<>();
        try (Stream<Path> files = Files.walk(runtime)) {
            files.filter(f -> Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS))
                    .filter(f -> f.getFileName().toString().endsWith(".so")
                            || f.getParent().getFileName().toString().equals("bin"))
                    .forEach(f -> objects.add(f.toString()));
        }
        List<String> command = new ArrayList<>(List.of("ldd"));
        command.addAll(objects);
        Process ldd = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(ldd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        ldd.waitFor();
        Set<Path> libs = new TreeSet<>();
        for (String line : out.split("\n")) {
            Matcher m = LDD_PATH.matcher(line.trim());
            if (m.find() && !m.group(1).startsWith(runtime.toAbsolutePath().toString())) {
                libs.add(Path.of(m.group(1)));
            }
        }
        if (libs.stream().noneMatch(l -> l.getFileName().toString().startsWith("libc.so"))) {
            throw new IllegalStateException("ldd named no libc for the runtime:\n" + out);
        }
        return libs;
    }

    /** The runtime's files keep their modes (executables stay executable). */
    private static FilePermissionsProvider keepModes() {
        return (source, target) -> {
            try {
                return FilePermissions.fromPosixFilePermissions(Files.getPosixFilePermissions(source));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
