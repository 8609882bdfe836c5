package dev.outpost.sync.auth;

import dev.outpost.model.ErrorCode;
import dev.outpost.sync.api.Problem;
import java.util.EnumSet;
import java.util.Set;

/**
 * An operator's role (docs/SECURITY.md, "Operators and roles"): a viewer reads; a supervisor of given scopes reads,
 * edits data and resolves conflicts in those scopes only; a release manager reads and ships models; an admin does
 * everything, including devices and operators.
 */
public enum Role {
    VIEWER("viewer", EnumSet.of(Permission.READ)),
    SUPERVISOR("supervisor", EnumSet.of(Permission.READ, Permission.DATA_EDIT, Permission.CONFLICT_RESOLVE)),
    RELEASE_MANAGER("release-manager", EnumSet.of(Permission.READ, Permission.RELEASE)),
    ADMIN("admin", EnumSet.allOf(Permission.class));

    public final String key;
    private final Set<Permission> permissions;

    Role(String key, Set<Permission> permissions) {
        this.key = key;
        this.permissions = permissions;
    }

    public boolean may(Permission p) {
        return permissions.contains(p);
    }

    public static Role of(String key) {
        for (Role r : values()) {
            if (r.key.equals(key)) {
                return r;
            }
        }
        throw new Problem(
                ErrorCode.MALFORMED_PAYLOAD, "role is one of viewer, supervisor, release-manager, admin; not " + key);
    }
}
