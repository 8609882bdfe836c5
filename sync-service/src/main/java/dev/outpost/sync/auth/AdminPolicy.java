package dev.outpost.sync.auth;

/**
 * Which {@link Permission} each admin request needs, by method and path: one table for the whole admin API, checked
 * before any resource runs ({@code CredentialFirst}). Reads need {@link Permission#READ}; a write nobody listed here
 * needs {@link Permission#OPERATORS}, so a new endpoint is an admin's until it is placed.
 */
public final class AdminPolicy {
    private AdminPolicy() {}

    /** The permission {@code method path} needs; {@code path} starts with {@code /v1/admin/}. */
    public static Permission permission(String method, String path) {
        String p = path.substring("/v1/admin/".length());
        if (method.equals("GET") || method.equals("HEAD")) {
            return p.startsWith("operators") ? Permission.OPERATORS : Permission.READ;
        }
        if (p.startsWith("data/rebuild")) {
            return Permission.DEVICES;
        }
        if (p.startsWith("data/")) {
            return Permission.DATA_EDIT;
        }
        if (p.startsWith("conflicts/") && p.endsWith("/resolve")) {
            return Permission.CONFLICT_RESOLVE;
        }
        if (p.startsWith("artifacts") || p.startsWith("rollouts")) {
            return Permission.RELEASE;
        }
        if (p.startsWith("devices")) {
            return Permission.DEVICES;
        }
        return Permission.OPERATORS;
    }
}
