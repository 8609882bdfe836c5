package dev.outpost.sync.auth;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import dev.outpost.sync.config.OutpostConfig;
import dev.outpost.sync.store.OperatorStore;
import dev.outpost.sync.store.OperatorStore.OperatorRow;
import io.smallrye.jwt.auth.principal.JWTParser;
import io.smallrye.jwt.auth.principal.ParseException;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.Optional;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.jwt.JsonWebToken;

/**
 * Who an admin request comes from (docs/SECURITY.md, "Operators and roles"), from its bearer credential:
 *
 * <ul>
 *   <li>an OIDC token (a JWT) verified by SmallRye JWT against the identity provider's JWKS, issuer and audience
 *       ({@code mp.jwt.verify.*}), whose subject (or the claim {@code outpost.operators.oidc-claim} names) is bound to
 *       an operator;
 *   <li>an operator's API token ({@code opo_...}), looked up by its SHA-256;
 *   <li>the static admin token, a break-glass admin for bootstrapping (named {@code break-glass} in the audit trail).
 * </ul>
 *
 * An unknown, expired or revoked credential is 401; a verified identity that is no operator, or a disabled one, is
 * 403. Valid API tokens are remembered per replica as device credentials are ({@code outpost.auth.*}).
 */
@ApplicationScoped
public class OperatorAuth {
    public static final String TOKEN_PREFIX = "opo_";

    private final OperatorStore store;
    private final OutpostConfig config;
    private final JWTParser jwt;
    private final CredentialCache<Operator> remembered;

    private final ReplicaNotices notices;

    public OperatorAuth(OperatorStore store, OutpostConfig config, JWTParser jwt, ReplicaNotices notices) {
        this.store = store;
        this.config = config;
        this.jwt = jwt;
        this.remembered = new CredentialCache<>(config);
        this.notices = notices;
        notices.listen("operator", this::forgetHere, remembered::clear);
    }

    /** The operator the {@code Authorization} header proves. */
    public Uni<Operator> authenticate(String authorization) {
        String token = Tokens.bearer(authorization);
        if (token == null) {
            return fail(new Problem(ErrorCode.UNAUTHENTICATED, "missing bearer credential"));
        }
        Optional<String> breakGlass = config.adminToken().filter(t -> !t.isBlank());
        if (breakGlass.isPresent() && Tokens.same(token, breakGlass.get())) {
            return Uni.createFrom().item(Operator.BREAK_GLASS_ADMIN);
        }
        if (token.startsWith(TOKEN_PREFIX)) {
            return apiToken(token);
        }
        if (token.chars().filter(c -> c == '.').count() == 2) {
            return oidc(token);
        }
        if (token.startsWith("opd_")) {
            return fail(new Problem(ErrorCode.ADMIN_ONLY, "a device credential cannot act as an operator"));
        }
        return fail(new Problem(ErrorCode.UNAUTHENTICATED, "unknown operator credential"));
    }

    private Uni<Operator> apiToken(String token) {
        byte[] hash = Tokens.hash(token);
        String key = CredentialCache.key(hash);
        Operator known = remembered.get(key);
        if (known != null) {
            return Uni.createFrom().item(known);
        }
        return store.byTokenHash(hash).map(found -> {
            var owner = found.orElseThrow(() -> new Problem(ErrorCode.UNAUTHENTICATED, "unknown operator credential"));
            OffsetDateTime now = OffsetDateTime.now();
            if (owner.revokedAt() != null) {
                throw new Problem(
                        ErrorCode.CREDENTIAL_REVOKED,
                        "this API token of '" + owner.operator().name() + "' was revoked");
            }
            if (owner.expiresAt() != null && owner.expiresAt().isBefore(now)) {
                throw new Problem(
                        ErrorCode.UNAUTHENTICATED,
                        "this API token of '" + owner.operator().name() + "' expired at " + owner.expiresAt()
                                + "; an admin can give a new one");
            }
            Operator op = active(owner.operator(), Operator.API_TOKEN);
            remembered.put(key, op);
            return op;
        });
    }

    private Uni<Operator> oidc(String token) {
        if (ConfigProvider.getConfig()
                .getOptionalValue("mp.jwt.verify.publickey.location", String.class)
                .isEmpty()) {
            return fail(new Problem(
                    ErrorCode.UNAUTHENTICATED,
                    "OIDC tokens are not accepted here: mp.jwt.verify.publickey.location (the JWKS) is not set"));
        }
        String claim = config.operators().oidcClaim();
        // Verification may fetch the JWKS: on a worker, never on the event loop.
        return Uni.createFrom()
                .item(() -> {
                    try {
                        return jwt.parse(token);
                    } catch (ParseException e) {
                        throw new Problem(ErrorCode.UNAUTHENTICATED, "the OIDC token does not verify: " + reason(e));
                    }
                })
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                .flatMap((JsonWebToken t) -> {
                    Object value = t.getClaim(claim);
                    if (value == null) {
                        throw new Problem(ErrorCode.UNAUTHENTICATED, "the OIDC token has no '" + claim + "' claim");
                    }
                    String subject = value instanceof jakarta.json.JsonString s ? s.getString() : value.toString();
                    return store.bySubject(subject)
                            .map(found -> active(
                                    found.orElseThrow(() -> new Problem(
                                            ErrorCode.NOT_PERMITTED,
                                            "the OIDC identity '" + subject
                                                    + "' is not an Outpost operator; an admin can"
                                                    + " bind it to one (POST /v1/admin/operators with oidcSubject)")),
                                    Operator.OIDC));
                });
    }

    private static String reason(ParseException e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return String.valueOf(t.getMessage());
    }

    private static Operator active(OperatorRow row, String via) {
        if (row.disabledAt() != null) {
            throw new Problem(ErrorCode.NOT_PERMITTED, "operator '" + row.name() + "' was disabled");
        }
        return new Operator(row.name(), Role.of(row.role()), row.scopes(), via);
    }

    /** Forgets the remembered credentials of {@code name} (after they were disabled) here and on every replica. */
    public Uni<Void> forget(String name) {
        forgetHere(name);
        return notices.publish("operator", name);
    }

    private void forgetHere(String name) {
        remembered.forgetIf(op -> op.name().equals(name));
    }

    private static <T> Uni<T> fail(Problem p) {
        return Uni.createFrom().failure(p);
    }
}
