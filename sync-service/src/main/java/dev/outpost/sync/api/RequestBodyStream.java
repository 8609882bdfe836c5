package dev.outpost.sync.api;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;

/**
 * A request body as a blocking {@link InputStream} for a worker thread, with back-pressure: the connection is paused
 * while {@link #HIGH_WATER} buffers wait, and resumed when the reader has drained them to {@link #LOW_WATER}. So an
 * upload of any size holds a few hundred KiB of it at a time.
 */
final class RequestBodyStream extends InputStream {
    static final int HIGH_WATER = 32;
    static final int LOW_WATER = 8;
    /** A client that sends nothing for this long has gone; the upload fails rather than holding a worker forever. */
    static final long IDLE_MS_MAX = 120_000;

    private final HttpServerRequest request;
    private final Context context;
    private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
    private Buffer current;
    private int pos;
    private boolean ended;
    private boolean paused;
    private Throwable failure;

    /** Call on the request's event loop, with the request paused; this takes over its handlers and resumes it. */
    RequestBodyStream(HttpServerRequest request, Context context) {
        this.request = request;
        this.context = context;
        request.handler(this::data);
        request.endHandler(v -> end(null));
        request.exceptionHandler(this::end);
        request.resume();
    }

    private synchronized void data(Buffer b) {
        queue.add(b);
        if (!paused && queue.size() >= HIGH_WATER) {
            paused = true;
            request.pause();
        }
        notifyAll();
    }

    private synchronized void end(Throwable t) {
        ended = true;
        failure = t;
        notifyAll();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public synchronized int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        while (current == null || pos == current.length()) {
            if (!queue.isEmpty()) {
                current = queue.poll();
                pos = 0;
                if (paused && queue.size() <= LOW_WATER) {
                    paused = false;
                    context.runOnContext(v -> request.resume());
                }
                continue;
            }
            if (failure != null) {
                throw new IOException("the upload connection failed: " + failure.getMessage(), failure);
            }
            if (ended) {
                return -1;
            }
            long deadline = System.currentTimeMillis() + IDLE_MS_MAX;
            try {
                while (queue.isEmpty() && !ended) {
                    long left = deadline - System.currentTimeMillis();
                    if (left <= 0) {
                        throw new IOException("the upload stalled for " + IDLE_MS_MAX / 1000 + " s");
                    }
                    wait(left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("upload interrupted");
            }
        }
        int n = Math.min(len, current.length() - pos);
        current.getBytes(pos, pos + n, b, off);
        pos += n;
        return n;
    }
}
