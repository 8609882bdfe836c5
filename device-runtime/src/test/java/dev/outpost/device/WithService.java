package dev.outpost.device;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** Base of the end-to-end tests: one real sync service (with its embedded PostgreSQL) per test class. */
abstract class WithService {
    @TempDir
    static Path dir;

    static Service service;

    @BeforeAll
    static void startService() throws Exception {
        service = Service.start(dir);
    }

    @AfterAll
    static void stopService() throws Exception {
        if (service != null) {
            service.close();
            service = null;
        }
    }
}
