package dev.outpost.sync.store;

import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.config.SchemaRegistry;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import java.time.Duration;

/** The {@link DataTables} of the current schema, made (or given their new columns) when the service starts. */
@ApplicationScoped
public class DataTablesSetup {
    private final DataTables tables;
    private final Pool pool;

    public DataTablesSetup(OutpostConfig config, SchemaRegistry schemas, Pool pool) {
        String name = config.data().schema();
        if (!name.matches("[a-z_][a-z0-9_]{0,62}")) {
            throw new IllegalStateException("outpost.data.schema '" + name
                    + "' is not a PostgreSQL name of lower-case letters, digits and '_' (63 at most)");
        }
        this.tables = new DataTables(name, schemas.current());
        this.pool = pool;
    }

    @Produces
    @ApplicationScoped
    DataTables dataTables() {
        return tables;
    }

    void start(@Observes StartupEvent ev) {
        tables.ensure(pool).await().atMost(Duration.ofMinutes(2));
    }
}
