package dev.outpost.device.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class PrefetchTest {
    /** Serves frame {@code n} as the bytes "frame n"; answers batches as the service does, or refuses them. */
    private static class Link implements ArtifactLink {
        final List<String> requests = Collections.synchronizedList(new ArrayList<>());
        final boolean batches;
        /** Cut the first batch answer short by a byte: it no longer splits into its frames. */
        volatile boolean cutFirstBatch;

        Link(boolean batches) {
            this.batches = batches;
        }

        @Override
        public byte[] fetch(String path, int maxBytes) {
            requests.add(path);
            if (path.startsWith("v1/frames?list=")) {
                if (!batches) {
                    throw new DeviceException(ExitCode.REFUSED, "refused by the server: no route [not-found]");
                }
                ByteArrayOutputStream body = new ByteArrayOutputStream();
                for (String name : path.substring("v1/frames?list=".length()).split(",")) {
                    byte[] frame = frame(name.substring(name.indexOf(':') + 1));
                    body.write(frame.length >>> 24);
                    body.write(frame.length >>> 16);
                    body.write(frame.length >>> 8);
                    body.write(frame.length);
                    body.writeBytes(frame);
                }
                byte[] b = body.toByteArray();
                if (cutFirstBatch) {
                    cutFirstBatch = false;
                    return Arrays.copyOf(b, b.length - 1);
                }
                return b;
            }
            return frame(path.substring(path.lastIndexOf('/') + 1));
        }

        static byte[] frame(String n) {
            return ("frame " + n).getBytes(StandardCharsets.US_ASCII);
        }

        @Override
        public void fetchTo(String path, long maxBytes, Path file) {
            throw new UnsupportedOperationException();
        }

        @Override
        public String getJson(String path) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int postJson(String path, String json) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long bytesDownloaded() {
            return 0;
        }
    }

    /** Steps 0..n-1; every third one is local (no job); a remote one's job decodes its frame to itself. */
    private static List<byte[]> run(Link link, int steps) throws IOException {
        List<byte[]> out = new ArrayList<>();
        try (Prefetch p = new Prefetch(
                link,
                steps,
                0,
                i -> i % 3 == 2
                        ? null
                        : new Prefetch.Job() {
                            @Override
                            public String frame() {
                                return (i % 2 == 0 ? "chunk:" : "delta:") + i;
                            }

                            @Override
                            public byte[] decode(Prefetch.Frame frame, StepDecoder decoder) {
                                return Arrays.copyOfRange(
                                        frame.body(), frame.offset(), frame.offset() + frame.length());
                            }
                        })) {
            for (int i = 0; i < steps; i++) {
                out.add(p.take(i));
            }
        }
        return out;
    }

    private static void assertFramesInOrder(List<byte[]> out) {
        for (int i = 0; i < out.size(); i++) {
            if (i % 3 == 2) {
                assertNull(out.get(i), "a local step has no frame");
            } else {
                assertArrayEquals(Link.frame("" + i), out.get(i), "step " + i);
            }
        }
    }

    @Test
    void remoteStepsAreFetchedSeveralToARequestAndComeBackInPlanOrder() throws IOException {
        Link link = new Link(true);
        List<byte[]> out = run(link, 60);
        assertFramesInOrder(out);
        // 40 remote steps in batches of 4 (a batch ends where the window does): far fewer requests than frames, each
        // naming its frames by kind.
        assertTrue(link.requests.stream().allMatch(r -> r.startsWith("v1/frames?list=")), link.requests.toString());
        int named = link.requests.stream().mapToInt(r -> r.split(",").length).sum();
        assertEquals(40, named);
        assertEquals(40 / Prefetch.BATCH, link.requests.size(), "whole batches");
        assertTrue(link.requests.contains("v1/frames?list=chunk:0,delta:1,delta:3,chunk:4"), link.requests.toString());
    }

    @Test
    void aServiceThatRefusesBatchesIsAskedOneFrameAtATimeAfterItsFirstRefusal() throws IOException {
        Link link = new Link(false);
        assertFramesInOrder(run(link, 60));
        long refused =
                link.requests.stream().filter(r -> r.startsWith("v1/frames")).count();
        assertTrue(refused >= 1 && refused <= Prefetch.WINDOW / Prefetch.BATCH, refused + " batch requests");
        assertEquals(40, link.requests.size() - refused, "every frame once on its own");
        assertTrue(link.requests.contains("v1/chunks/0") && link.requests.contains("v1/deltas/1"));
    }

    @Test
    void aBatchAnswerThatDoesNotSplitIntoItsFramesIsAskedForFrameByFrame() throws IOException {
        Link link = new Link(true);
        link.cutFirstBatch = true;
        assertFramesInOrder(run(link, 30));
        // The batch whose answer was cut (whichever the service answered first) is asked for again frame by frame;
        // the rest stay in batches.
        long single =
                link.requests.stream().filter(r -> !r.startsWith("v1/frames")).count();
        assertEquals(Prefetch.BATCH, single, link.requests.toString());
    }

    @Test
    void theDecodingThreadStaysWithinItsLeadOfTheStepsTaken() throws IOException {
        Link link = new Link(true);
        java.util.concurrent.atomic.AtomicInteger taken = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger lead = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger order = new java.util.concurrent.atomic.AtomicInteger();
        List<Integer> decoded = Collections.synchronizedList(new ArrayList<>());
        try (Prefetch p = new Prefetch(link, 200, 0, i -> new Prefetch.Job() {
            @Override
            public String frame() {
                return "chunk:" + i;
            }

            @Override
            public byte[] decode(Prefetch.Frame frame, StepDecoder decoder) {
                decoded.add(i);
                lead.accumulateAndGet(i - taken.get(), Math::max);
                order.incrementAndGet();
                return Arrays.copyOfRange(frame.body(), frame.offset(), frame.offset() + frame.length());
            }
        })) {
            for (int i = 0; i < 200; i++) {
                assertArrayEquals(Link.frame("" + i), p.take(i));
                taken.incrementAndGet();
            }
        }
        assertEquals(200, order.get());
        // Steps are decoded in plan order, never more than DECODED_AHEAD past the one being taken (a decoded chunk
        // waits, alive, for the assembling thread).
        assertEquals(java.util.stream.IntStream.range(0, 200).boxed().toList(), decoded);
        assertTrue(lead.get() <= Prefetch.DECODED_AHEAD, "decoded " + lead.get() + " steps ahead");
    }

    @Test
    void twoDecodingThreadsTakeTheirTurnsInStepOrderAndNeverStall() {
        Link link = new Link(true);
        java.util.concurrent.atomic.AtomicInteger taken = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger lead = new java.util.concurrent.atomic.AtomicInteger();
        java.util.Set<String> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        // A turn held by a later step while the step being taken waits for one would hang here: the bound ends it.
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(60), () -> {
            try (Prefetch p = new Prefetch(
                    link,
                    2000,
                    0,
                    i -> new Prefetch.Job() {
                        @Override
                        public String frame() {
                            return "chunk:" + i;
                        }

                        @Override
                        public byte[] decode(Prefetch.Frame frame, StepDecoder decoder) {
                            threads.add(Thread.currentThread().getName());
                            lead.accumulateAndGet(i - taken.get(), Math::max);
                            return Arrays.copyOfRange(frame.body(), frame.offset(), frame.offset() + frame.length());
                        }
                    },
                    2)) {
                for (int i = 0; i < 2000; i++) {
                    assertArrayEquals(Link.frame("" + i), p.take(i));
                    taken.incrementAndGet();
                }
            }
        });
        assertEquals(2, threads.size(), "both decoding threads decoded: " + threads);
        assertTrue(lead.get() <= Prefetch.DECODED_AHEAD, "decoded " + lead.get() + " steps ahead");
    }

    @Test
    void splitAcceptsExactlyTheFramesAskedFor() {
        byte[] two = {0, 0, 0, 1, 7, 0, 0, 0, 2, 8, 9};
        Prefetch.Frame[] frames = Prefetch.split(two, 2);
        assertEquals(new Prefetch.Frame(two, 4, 1), frames[0]);
        assertEquals(new Prefetch.Frame(two, 9, 2), frames[1]);
        assertNull(Prefetch.split(two, 3), "fewer frames than asked");
        assertNull(Prefetch.split(two, 1), "bytes left over");
        assertNull(Prefetch.split(Arrays.copyOf(two, 10), 2), "a frame cut short");
        assertNull(Prefetch.split(new byte[] {(byte) 0x7f, 0, 0, 0}, 1), "a length past any frame");
    }

    @Test
    void aFailureOtherThanARefusalStopsTheDownload() {
        ArtifactLink down = new Link(true) {
            @Override
            public byte[] fetch(String path, int maxBytes) {
                throw new DeviceException(ExitCode.UNREACHABLE, "no link");
            }
        };
        DeviceException e = assertThrows(DeviceException.class, () -> run((Link) down, 10));
        assertEquals(ExitCode.UNREACHABLE, e.exitCode());
    }
}
