package dev.outpost.sync.auth;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import java.util.List;

/**
 * Who an admin request comes from, as proven by its credential: an operator's name and role (and a supervisor's
 * scopes), and how they proved it ({@code oidc}, {@code api-token}, or {@code break-glass} for the static admin token).
 * The audit trail records {@link #actor()}.
 */
public record Operator(String name, Role role, List<String> scopes, String via) {
    public static final String OIDC = "oidc";
    public static final String API_TOKEN = "api-token";
    public static final String BREAK_GLASS = "break-glass";

    /** The static admin token: an admin, named as such in the audit trail. */
    public static final Operator BREAK_GLASS_ADMIN = new Operator(BREAK_GLASS, Role.ADMIN, List.of(), BREAK_GLASS);

    public Operator {
        scopes = List.copyOf(scopes);
    }

    /** What the audit trail and the domain records (rollout events, resolutions, data writes) name. */
    public String actor() {
        return name;
    }

    /** 403 {@code not-permitted} unless the role allows {@code p}. */
    public void require(Permission p) {
        if (!role.may(p)) {
            throw new Problem(
                    ErrorCode.NOT_PERMITTED,
                    "operator '" + name + "' is a " + role.key + ", which may not " + describe(p));
        }
    }

    /** Whether rows and conflicts of {@code scope} are this operator's to see and act on: a supervisor's own only. */
    public boolean covers(String scope) {
        return role != Role.SUPERVISOR || scopes.contains(scope);
    }

    /** 403 {@code out-of-scope} when {@link #covers} is false. */
    public void requireScope(String scope) {
        if (!covers(scope)) {
            throw new Problem(
                    ErrorCode.OUT_OF_SCOPE,
                    "operator '" + name + "' supervises " + scopes + ", not scope '" + scope + "'");
        }
    }

    /** The scopes this operator is kept to, or {@code null} for all. */
    public List<String> scopeLimit() {
        return role == Role.SUPERVISOR ? scopes : null;
    }

    private static String describe(Permission p) {
        return switch (p) {
            case READ -> "read";
            case DATA_EDIT -> "edit data";
            case CONFLICT_RESOLVE -> "resolve conflicts";
            case RELEASE -> "publish or roll out models";
            case DEVICES -> "manage devices";
            case OPERATORS -> "manage operators";
        };
    }
}
