package dev.outpost.device;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A TCP load balancer in front of several service replicas, as a Kubernetes Service or an ingress is: each new
 * connection goes to the next replica in turn, skipping one that refuses connections (killed). Every
 * {@code loseAnswerEvery}-th connection forwards its request and then loses the answer (the connection is dropped
 * as the answer starts), so the client retries a request the service did apply, on another connection, which lands
 * on another replica.
 */
final class RoundRobinProxy implements AutoCloseable {
    private final ServerSocket server;
    private final List<Integer> ports;
    private final int loseAnswerEvery;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger connections = new AtomicInteger();
    final AtomicIntegerArray connectionsTo;
    final AtomicInteger answersLost = new AtomicInteger();

    /** {@code loseAnswerEvery} 0: never lose an answer. */
    RoundRobinProxy(List<Integer> ports, int loseAnswerEvery) throws IOException {
        this.server = new ServerSocket(0);
        this.ports = List.copyOf(ports);
        this.loseAnswerEvery = loseAnswerEvery;
        this.connectionsTo = new AtomicIntegerArray(ports.size());
        Thread.ofPlatform().daemon().start(this::accept);
    }

    String url() {
        return "http://localhost:" + server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            Thread.ofPlatform().daemon().start(() -> route(client));
        }
    }

    private void route(Socket client) {
        Socket up = null;
        int start = Math.floorMod(next.getAndIncrement(), ports.size());
        for (int i = 0; i < ports.size() && up == null; i++) {
            int replica = (start + i) % ports.size();
            try {
                up = new Socket();
                up.connect(new InetSocketAddress("localhost", ports.get(replica)), 1000);
                connectionsTo.incrementAndGet(replica);
            } catch (IOException down) {
                up = null; // killed: the next one
            }
        }
        if (up == null) {
            close(client, null);
            return;
        }
        boolean lose = loseAnswerEvery > 0 && connections.incrementAndGet() % loseAnswerEvery == 0;
        Socket upstream = up;
        Thread.ofPlatform().daemon().start(() -> pump(client, upstream, false));
        pump(upstream, client, lose);
    }

    private void pump(Socket from, Socket to, boolean loseAnswer) {
        byte[] buf = new byte[16384];
        try (InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream()) {
            for (int n; (n = in.read(buf)) > 0; ) {
                if (loseAnswer) {
                    answersLost.incrementAndGet();
                    return; // the request was served; its answer never arrives
                }
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            // one side went away: close the other
        } finally {
            close(from, to);
        }
    }

    private static void close(Socket a, Socket b) {
        for (Socket s : new Socket[] {a, b}) {
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // already closed
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
