package dev.outpost.sync.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Outpost's own settings ({@code outpost.*}); see application.properties for what each one bounds. */
@ConfigMapping(prefix = "outpost")
public interface OutpostConfig {

    /** The admin bearer token; empty means admin calls are refused. */
    Optional<String> adminToken();

    /**
     * This replica's name among the service's replicas (1-57 letters, digits, '-', '_', '.'): the node id of the clock
     * that stamps its server changes is {@code server.<replica-id>}, so two replicas never issue the same clock.
     * Unset (the default): a random one per process, which is unique without coordination; set it (a StatefulSet's
     * pod name, say) to keep one name across restarts, but never give two running replicas the same one.
     */
    Optional<String> replicaId();

    Schema schema();

    Data data();

    Sync sync();

    Artifacts artifacts();

    Rollouts rollouts();

    Auth auth();

    Operators operators();

    Limits limits();

    Retention retention();

    Snapshots snapshots();

    Compaction compaction();

    /**
     * Feed compaction (FeedCompaction, docs/operations.md): the feed of a scope is deleted below its horizon, the
     * lowest of the cursors of the devices active in it and of its oldest kept snapshot.
     */
    interface Compaction {
        /** Whether the feed is compacted at all. */
        @WithDefault("true")
        boolean enabled();

        /** How often a replica looks (one at a time across replicas). */
        @WithDefault("PT10M")
        Duration every();

        /**
         * A device that has not synced for this long no longer holds the horizon back; when it comes back behind the
         * horizon it starts again from its scopes' snapshots, keeping what it wrote meanwhile.
         */
        @WithDefault("P30D")
        Duration deviceIdle();

        /** Feed entries deleted per scope per look at most. */
        @WithDefault("10000")
        int entriesPerRun();
    }

    /** Scope snapshots a fresh device starts from (SnapshotBuilder). */
    interface Snapshots {
        /** How often every scope's snapshot is built again (one replica builds). */
        @WithDefault("PT6H")
        Duration every();
    }

    /** What the service keeps how long (docs/operations.md); pruned by {@code RetentionJob}. */
    interface Retention {
        /** How often a replica looks (one at a time across replicas). */
        @WithDefault("PT10M")
        Duration every();

        /**
         * How long an applied batch's id and first answer are kept: a retry within it gets that answer back
         * ({@code duplicate}); a later retry is applied again, which changes nothing (every op is idempotent state).
         */
        @WithDefault("P30D")
        Duration batchRetryWindow();

        /** How long devices' model install reports are kept (each device's current model is kept regardless). */
        @WithDefault("P90D")
        Duration modelReports();

        /** Rows deleted per table per look at most, so that one look never holds locks or I/O for long. */
        @WithDefault("10000")
        int rowsPerRun();
    }

    /**
     * Rate limits per replica (token buckets refilled evenly over a minute, as deep as a minute's allowance). Behind a
     * proxy, enable {@code quarkus.http.proxy.proxy-address-forwarding} so that an address is the client's.
     */
    interface Limits {
        @WithDefault("true")
        boolean enabled();

        /** Requests a minute one device credential may make to {@code /v1/sync} and {@code /v1/device/}. */
        @WithDefault("1200")
        int devicePerMinute();

        /** Requests a minute from one address (a field office's devices may share one). */
        @WithDefault("12000")
        int addressPerMinute();

        /** Refused credentials (401/403) a minute from one address; past it, its credentialed requests wait. */
        @WithDefault("60")
        int authFailuresPerMinute();
    }

    interface Data {
        /** The PostgreSQL schema of the typed tables people query (docs/data.md). */
        @WithDefault("outpost_data")
        String schema();
    }

    interface Auth {
        /**
         * How long a replica remembers a valid device credential. A revocation takes effect at once on the replica
         * that made it and on every other as soon as its notice (PostgreSQL NOTIFY) arrives; this is the bound for a
         * replica that could not listen meanwhile. Zero: look every request up.
         */
        @WithDefault("PT5S")
        Duration credentialCacheTtl();

        /** Credentials remembered at most (then forgotten all at once). */
        @WithDefault("100000")
        int credentialCacheSize();
    }

    interface Operators {
        /**
         * The claim of a verified OIDC token that names the operator it is bound to ({@code oidcSubject} of an
         * operator); {@code sub} by default, {@code preferred_username} or {@code email} where the provider's subjects
         * are opaque.
         */
        @WithDefault("sub")
        String oidcClaim();
    }

    interface Rollouts {
        /**
         * The soak time of rollouts created without one: a healthy newest wave open this long opens the next by
         * itself. Unset (the default): operators promote every wave.
         */
        Optional<Duration> autoPromoteAfter();

        /** How often running rollouts with automatic promotion are looked at when no report arrives. */
        @WithDefault("PT15S")
        Duration evaluateEvery();
    }

    interface Schema {
        /** The current schema file; the bundled farm example when unset. */
        Optional<String> path();

        /**
         * Earlier schema versions still served: devices on them keep syncing (pulls leave out what they cannot
         * read) as long as the current schema only added to them.
         */
        Optional<List<String>> previousPaths();
    }

    interface Sync {
        @WithDefault("8388608")
        int payloadBytesMax();

        @WithDefault("5000")
        int batchChangesMax();

        @WithDefault("1000")
        int pageSizeDefault();

        @WithDefault("5000")
        int pageSizeMax();

        /** Changes stamped further ahead of the server's clock are refused. */
        @WithDefault("PT5M")
        Duration maxClockSkew();
    }

    interface Artifacts {
        /**
         * The file-system chunk store, and the development signing key when none is configured; default
         * {@code ~/.outpost-server/artifacts}.
         */
        Optional<String> dir();

        /** Base64 PKCS#8 Ed25519 private key; with {@link #signingKeyPublic()}, or neither (a key is generated). */
        Optional<String> signingKeyPrivate();

        /** Base64 X.509 Ed25519 public key of the online signing key. */
        Optional<String> signingKeyPublic();

        /**
         * Base64 of the root-signed key delegation naming the signing key ({@code outpost keys online} makes both
         * offline): what devices given the root at {@code init} trust the signing key by.
         */
        Optional<String> keyDelegation();

        /** Base64 X.509 of the root's public key: when set, the delegation is checked against it at start. */
        Optional<String> rootKey();

        /** A start with a delegation expiring sooner than this logs a warning each start. */
        @WithDefault("P14D")
        Duration keyDelegationWarning();

        /** How long a signed assignment stays valid: a device offline longer asks again before it installs. */
        @WithDefault("P7D")
        Duration assignmentTtl();

        /** Largest artifact version accepted by an upload. */
        @WithDefault("17179869184")
        long uploadBytesMax();

        /**
         * Where chunks and deltas are kept: {@code file} (under {@link #dir()}: one machine, or a ReadWriteMany
         * volume) or {@code s3} (a bucket every replica reads, settings under {@code outpost.artifacts.s3}).
         */
        @WithDefault("file")
        StoreKind store();

        S3 s3();

        enum StoreKind {
            FILE,
            S3
        }

        /** The bucket for {@code outpost.artifacts.store=s3}. */
        interface S3 {
            /** Required with the s3 store. */
            Optional<String> bucket();

            /** For an S3-compatible store (MinIO, Ceph); AWS's own endpoint when absent. */
            Optional<java.net.URI> endpoint();

            @WithDefault("us-east-1")
            String region();

            /** Keys start with this (e.g. {@code outpost/}), for a bucket shared with other data. */
            Optional<String> prefix();

            /** Path-style URLs ({@code endpoint/bucket/key}), which most S3-compatible stores need. */
            @WithDefault("false")
            boolean pathStyle();

            /**
             * With {@link #secretAccessKey()}; when neither is set, the SDK's default chain applies (AWS_ACCESS_KEY_ID
             * and AWS_SECRET_ACCESS_KEY, the profile file, the instance or container role).
             */
            Optional<String> accessKeyId();

            Optional<String> secretAccessKey();

            /** Connect and read timeout of one request to the store. */
            @WithDefault("PT30S")
            Duration timeout();
        }
    }
}
