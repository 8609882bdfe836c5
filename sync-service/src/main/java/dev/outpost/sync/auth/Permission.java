package dev.outpost.sync.auth;

/** What an admin request needs of its operator ({@link AdminPolicy} says which, {@link Role} who has it). */
public enum Permission {
    /** Read anything under {@code /v1/admin/} (a supervisor's data and conflicts only in their scopes). */
    READ,
    /** Write rows through the data API (a supervisor's only in their scopes). */
    DATA_EDIT,
    /** Resolve conflicts (a supervisor's only in their scopes). */
    CONFLICT_RESOLVE,
    /** Upload artifact versions, set desired versions, run rollouts. */
    RELEASE,
    /** Register, revoke and re-register devices; rebuild the typed tables. */
    DEVICES,
    /** Create and disable operators and give them API tokens. */
    OPERATORS
}
