package dev.outpost.sync.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Operators, their API tokens (by hash) and the audit trail, in PostgreSQL (V15__operators.sql). */
@ApplicationScoped
public class OperatorStore {
    private final Pool pool;

    public OperatorStore(Pool pool) {
        this.pool = pool;
    }

    /** An operator as stored. */
    public record OperatorRow(
            String name,
            String role,
            List<String> scopes,
            String oidcSubject,
            OffsetDateTime createdAt,
            String createdBy,
            OffsetDateTime disabledAt) {}

    /** The operator an API token belongs to, with the token's own state. */
    public record TokenOwner(OperatorRow operator, OffsetDateTime expiresAt, OffsetDateTime revokedAt) {}

    /** One audit event. */
    public record AuditRow(
            long id, OffsetDateTime at, String actor, String via, String method, String path, int status) {}

    private static final String COLUMNS =
            "o.name, o.role, o.scopes, o.oidc_subject, o.created_at, o.created_by," + " o.disabled_at";

    private static OperatorRow operator(Row r) {
        return new OperatorRow(
                r.getString("name"),
                r.getString("role"),
                List.of(r.getArrayOfStrings("scopes")),
                r.getString("oidc_subject"),
                r.getOffsetDateTime("created_at"),
                r.getString("created_by"),
                r.getOffsetDateTime("disabled_at"));
    }

    /** Inserts an operator; empty when the name or the OIDC subject is taken. */
    public Uni<Optional<OperatorRow>> create(
            String name, String role, List<String> scopes, String oidcSubject, String createdBy) {
        return pool.preparedQuery("insert into operator (name, role, scopes, oidc_subject, created_by)"
                        + " values ($1, $2, $3, $4, $5) on conflict do nothing returning " + COLUMNS.replace("o.", ""))
                .execute(Tuple.of(name, role, scopes.toArray(String[]::new), oidcSubject, createdBy))
                .map(OperatorStore::first);
    }

    private static Optional<OperatorRow> first(RowSet<Row> rows) {
        var it = rows.iterator();
        return it.hasNext() ? Optional.of(operator(it.next())) : Optional.empty();
    }

    public Uni<List<OperatorRow>> list() {
        return pool.query("select " + COLUMNS + " from operator o order by o.name")
                .execute()
                .map(rows -> {
                    List<OperatorRow> out = new ArrayList<>();
                    rows.forEach(r -> out.add(operator(r)));
                    return out;
                });
    }

    public Uni<Optional<OperatorRow>> byName(String name) {
        return pool.preparedQuery("select " + COLUMNS + " from operator o where o.name = $1")
                .execute(Tuple.of(name))
                .map(OperatorStore::first);
    }

    public Uni<Optional<OperatorRow>> bySubject(String subject) {
        return pool.preparedQuery("select " + COLUMNS + " from operator o where o.oidc_subject = $1")
                .execute(Tuple.of(subject))
                .map(OperatorStore::first);
    }

    public Uni<Optional<TokenOwner>> byTokenHash(byte[] hash) {
        return pool.preparedQuery("select " + COLUMNS + ", t.expires_at, t.revoked_at from operator_token t"
                        + " join operator o on o.name = t.operator where t.hash = $1")
                .execute(Tuple.of(io.vertx.core.buffer.Buffer.buffer(hash)))
                .map(rows -> {
                    var it = rows.iterator();
                    if (!it.hasNext()) {
                        return Optional.empty();
                    }
                    Row r = it.next();
                    return Optional.of(new TokenOwner(
                            operator(r), r.getOffsetDateTime("expires_at"), r.getOffsetDateTime("revoked_at")));
                });
    }

    /** Stores a token's hash for {@code name}; {@code lifetimeDays} null: until revoked. */
    public Uni<OffsetDateTime> addToken(String name, byte[] hash, Integer lifetimeDays) {
        return pool.preparedQuery("insert into operator_token (hash, operator, expires_at) values ($1, $2,"
                        + " case when $3::int is null then null else now() + make_interval(days => $3::int) end)"
                        + " returning expires_at")
                .execute(Tuple.of(io.vertx.core.buffer.Buffer.buffer(hash), name, lifetimeDays))
                .map(rows -> rows.iterator().next().getOffsetDateTime("expires_at"));
    }

    /** Disables an operator and revokes every token of theirs; false when there is no such operator. */
    public Uni<Boolean> disable(String name) {
        return pool.withTransaction(c -> c.preparedQuery(
                        "update operator set disabled_at = coalesce(disabled_at, now()) where name = $1")
                .execute(Tuple.of(name))
                .flatMap(updated -> updated.rowCount() == 0
                        ? Uni.createFrom().item(false)
                        : c.preparedQuery("update operator_token set revoked_at = coalesce(revoked_at, now())"
                                        + " where operator = $1")
                                .execute(Tuple.of(name))
                                .replaceWith(true)));
    }

    public Uni<Void> audit(String actor, String via, String method, String path, int status, String requestId) {
        return pool.preparedQuery("insert into audit_event (actor, via, method, path, status, request_id)"
                        + " values ($1, $2, $3, $4, $5, $6)")
                .execute(Tuple.of(actor, via, method, path, status, requestId))
                .replaceWithVoid();
    }

    /**
     * Records that the service signs with the key at {@code path} ({@code /signing-key/ID}) unless that is what the
     * last such record says already: a key rotation is in the audit trail once, however many replicas start with it.
     * True when recorded.
     */
    public Uni<Boolean> auditKeyInUse(String path) {
        return pool.preparedQuery("insert into audit_event (actor, via, method, path, status)"
                        + " select 'configuration', 'service-start', 'KEY', $1, 200"
                        + " where $1 is distinct from (select path from audit_event where method = 'KEY'"
                        + " order by id desc limit 1)")
                .execute(Tuple.of(path))
                .map(r -> r.rowCount() == 1);
    }

    /** Newest first, at most {@code limit}, older than {@code beforeId} when given; {@code actor} narrows. */
    public Uni<List<AuditRow>> auditTrail(String actor, Long beforeId, int limit) {
        return pool.preparedQuery("select id, at, actor, via, method, path, status from audit_event"
                        + " where ($1::text is null or actor = $1) and ($2::bigint is null or id < $2)"
                        + " order by id desc limit $3")
                .execute(Tuple.of(actor, beforeId, limit))
                .map(rows -> {
                    List<AuditRow> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new AuditRow(
                            r.getLong("id"),
                            r.getOffsetDateTime("at"),
                            r.getString("actor"),
                            r.getString("via"),
                            r.getString("method"),
                            r.getString("path"),
                            r.getInteger("status"))));
                    return out;
                });
    }
}
