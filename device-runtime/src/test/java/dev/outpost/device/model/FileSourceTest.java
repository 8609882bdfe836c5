package dev.outpost.device.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A manifest file read by position: the bytes asked for, or an error, never another file's bytes. */
class FileSourceTest {
    @TempDir
    Path dir;

    @Test
    void readsTheBytesAtAPositionAndFailsPastTheEnd() throws IOException {
        byte[] data = new byte[100_000];
        new java.util.Random(3).nextBytes(data);
        Path file = Files.write(dir.resolve("manifest"), data);
        FileSource source = FileSource.open(file);

        byte[] into = new byte[50];
        source.readFully(70_000, into, 10, 40);

        assertEquals(data.length, source.size());
        assertArrayEquals(Arrays.copyOfRange(data, 70_000, 70_040), Arrays.copyOfRange(into, 10, 50));
        assertThrows(EOFException.class, () -> source.readFully(99_990, into, 0, 20));
    }

    @Test
    void aFileReplacedUnderItsNameIsNotReadAsTheOneOpened() throws IOException {
        Path file = Files.write(dir.resolve("manifest"), new byte[] {1, 2, 3, 4});
        FileSource source = FileSource.open(file);
        Path other = Files.write(dir.resolve("other"), new byte[] {9, 9, 9, 9});

        Files.move(other, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

        IOException e = assertThrows(IOException.class, () -> source.readFully(0, new byte[4], 0, 4));
        assertEquals(true, e.getMessage().contains("changed"), e.getMessage());
        byte[] fresh = new byte[4];
        FileSource.open(file).readFully(0, fresh, 0, 4);
        assertArrayEquals(new byte[] {9, 9, 9, 9}, fresh);
    }

    @Test
    void aRenamedFileKeepsItsIdentity() throws IOException {
        Path file = Files.write(dir.resolve("manifest.partial"), new byte[] {5, 6});
        FileSource.Identity before = FileSource.open(file).identity();

        Path moved = Files.move(file, dir.resolve("manifest"), StandardCopyOption.ATOMIC_MOVE);

        assertEquals(before, FileSource.open(moved).identity());
    }
}
