package dev.outpost.sync.api;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * The admin console is static files under {@code META-INF/resources/console/}; every piece of data it shows comes
 * from the admin API with the credential the operator signs in with. {@code /} and {@code /console} lead to it.
 */
@ApplicationScoped
public class ConsoleRoute {
    void install(@Observes Router router) {
        // Vert.x matches "/console" and "/" with or without a trailing slash; only the bare paths redirect.
        router.get("/console").handler(ctx -> redirectIfExactly(ctx, "/console"));
        router.get("/").handler(ctx -> redirectIfExactly(ctx, "/"));
    }

    private static void redirectIfExactly(RoutingContext ctx, String path) {
        if (ctx.request().path().equals(path)) {
            ctx.redirect("/console/");
        } else {
            ctx.next();
        }
    }
}
