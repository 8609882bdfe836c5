package dev.outpost.sync.auth;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import jakarta.enterprise.context.RequestScoped;

/**
 * The operator of the admin request being served, set by {@code CredentialFirst} once the credential proved who they
 * are and {@link AdminPolicy} let them in; what the resources name in audit trails and check scopes against.
 */
@RequestScoped
public class CurrentOperator {
    private Operator operator;

    public void set(Operator operator) {
        this.operator = operator;
    }

    /** The operator; a request that reached an admin resource without one is refused, never served as nobody. */
    public Operator get() {
        if (operator == null) {
            throw new Problem(ErrorCode.UNAUTHENTICATED, "no operator credential was checked for this request");
        }
        return operator;
    }

    /** The operator, or null when this request has none (not an admin request). */
    public Operator orNull() {
        return operator;
    }
}
