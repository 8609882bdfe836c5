import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Build step of the one-file {@code outpost} (run by build-one-file.sh as a source-file program on the build's JDK):
 * copies the application jar, with two changes.
 *
 * <ul>
 *   <li>Class files older than Java 6 (major version below 50: picocli is compiled for Java 5) are rewritten as
 *       version 52 with stack maps. The JVM keeps such old classes out of an AOT cache and verifies them with the slow
 *       type-inferring verifier on every start; rewritten, they are verified once at build time and come from the
 *       cache already linked. Only the version and the stack maps change: the code is the same instructions.
 *   <li>Native libraries (every platform's SQLite and zstd) are dropped: the one-file ships this platform's, extracted
 *       ahead of time and loaded from {@code -Dorg.sqlite.lib.path} and {@code -DZstdNativePath}.
 * </ul>
 *
 * <p>Usage: {@code java OneFileJar.java IN.jar OUT.jar}
 */
public final class OneFileJar {
    private static final int OLDEST_KEPT_MAJOR = 50;
    private static final int UPGRADED_MAJOR = 52;

    public static void main(String[] args) throws IOException {
        Path in = Path.of(args[0]);
        Path out = Path.of(args[1]);
        try (URLClassLoader classes = new URLClassLoader(new URL[] {in.toUri().toURL()}, null)) {
            // Stack maps need the common superclass of two types: read from the jar itself, then the JDK.
            ClassFile rewriter = ClassFile.of(
                    ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.ofResourceParsing(classes)
                            .orElse(ClassHierarchyResolver.defaultResolver())));
            ClassTransform upgrade = ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                    .andThen((builder, element) -> {
                        if (element instanceof ClassFileVersion) {
                            builder.withVersion(UPGRADED_MAJOR, 0);
                        } else {
                            builder.with(element);
                        }
                    });
            int upgraded = 0;
            int dropped = 0;
            try (InputStream raw = Files.newInputStream(in);
                    ZipInputStream zin = new ZipInputStream(raw);
                    ZipOutputStream zout = new ZipOutputStream(Files.newOutputStream(out))) {
                for (ZipEntry e; (e = zin.getNextEntry()) != null; ) {
                    String name = e.getName();
                    if (name.endsWith(".so")
                            || name.endsWith(".dll")
                            || name.endsWith(".dylib")
                            || name.endsWith(".jnilib")) {
                        dropped++;
                        continue;
                    }
                    byte[] bytes = zin.readAllBytes();
                    if (name.endsWith(".class") && !name.startsWith("META-INF/") && major(bytes) < OLDEST_KEPT_MAJOR) {
                        ClassModel model = rewriter.parse(bytes);
                        bytes = rewriter.transformClass(model, upgrade);
                        upgraded++;
                    }
                    ZipEntry copy = new ZipEntry(name);
                    copy.setTime(e.getTime());
                    zout.putNextEntry(copy);
                    zout.write(bytes);
                    zout.closeEntry();
                }
            }
            System.out.printf("%s: %d old class files upgraded, %d native libraries dropped%n", out, upgraded, dropped);
        }
    }

    private static int major(byte[] classFile) {
        return ((classFile[6] & 0xff) << 8) | (classFile[7] & 0xff);
    }
}
