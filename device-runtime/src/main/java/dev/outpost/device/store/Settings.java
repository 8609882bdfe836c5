package dev.outpost.device.store;

import java.util.Optional;

/**
 * The device's small settings, one value per {@link Setting}. Every method runs inside the caller's transaction and
 * throws a {@code DeviceException} with exit code 5 when the store fails. A missing setting reads as empty; putting
 * one is idempotent.
 */
public interface Settings {
    /** Every setting a device keeps, with the key it is stored under (keys never change once shipped). */
    enum Setting {
        DEVICE_ID("device_id"),
        SERVER("server"),
        SCHEMA_VERSION("schema_version"),
        /** Granted scopes, comma-separated. */
        SCOPES("scopes"),
        /** The HLC as of the last sync (it took in the clocks it received). */
        CLOCK("clock"),
        /** The newest clock this device has shared: pushed and acknowledged, or pulled. */
        CLOCK_SHARED("clock_shared"),
        /** What the device adds to its wall clock when it stamps: 0, or minus how far it ran ahead of the server. */
        CLOCK_OFFSET_MS("clock_offset_ms"),
        CURSOR("cursor"),
        LAST_SYNC_AT("last_sync_at"),
        LAST_SYNC_ERROR("last_sync_error"),
        /** Which schema the typed tables were last made for (version and a hash of its JSON form). */
        TYPED_TABLES("typed_tables"),
        /** The pinned model signing key (base64 X.509 Ed25519): init --model-key, or pinned on first use before. */
        MODEL_SIGNING_KEY("model.signing_key"),
        /** The operator's root key (base64 X.509 Ed25519), init --root-key: online keys are trusted through it. */
        MODEL_ROOT_KEY("model.root_key"),
        /** The newest key delegation (base64 signed envelope) the root key verified. */
        MODEL_KEY_DELEGATION("model.key_delegation"),
        /** Every key a verified delegation named, base64 X.509, comma-separated: installed manifests verify by them. */
        MODEL_KEYS_SEEN("model.keys_seen"),
        /** The newest issue time (ms) of a model document that verified: expiry is never judged before it. */
        MODEL_TRUSTED_TIME("model.trusted_time_ms"),
        /** "true": plain http to a server beyond loopback is allowed (init --insecure). */
        LINK_INSECURE("link.insecure_http"),
        /** PEM certificates the server's chain must end in, instead of the platform's trust store (init --ca). */
        LINK_CA("link.ca_pem"),
        /** Pinned public keys, sha256/BASE64, comma-separated (init --pin). */
        LINK_PINS("link.pins"),
        /**
         * The schema, in its JSON form, since the device upgraded it in the field: it wins over the home's schema
         * files, which are rewritten after the upgrade commits.
         */
        SCHEMA("schema"),
        /** Each schema upgrade in the field, one line each: {@code FROM -> TO at INSTANT}. */
        SCHEMA_UPGRADES("schema.upgrades"),
        /** The schema version a backfill still runs for (empty: none): what that version could not hold comes. */
        BACKFILL_FROM("backfill.from"),
        /** Where the backfill stands in the service's feed (empty: at its start). */
        BACKFILL_CURSOR("backfill.cursor"),
        /**
         * "true" while a database rebuilt by {@code outpost doctor --repair} has not pulled everything yet: its pulls
         * ask for this device's own changes too, which it lost with the damaged file.
         */
        REBUILD("doctor.rebuild");

        public final String key;

        Setting(String key) {
            this.key = key;
        }
    }

    Optional<String> get(Setting setting);

    void put(Setting setting, String value);
}
