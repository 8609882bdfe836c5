-- Device credentials that live: an optional lifetime (a rotated token gets the same), the token a rotation replaced
-- (valid for a short grace, so a device that lost the rotation's answer can ask again), and when an admin gave a
-- revoked device id a new credential.
alter table device
    add column token_expires_at      timestamptz,
    add column token_lifetime_s      bigint,
    add column previous_token_hash   bytea unique,
    add column previous_token_until  timestamptz,
    add column reregistered_at       timestamptz;
