-- +goose Up
-- Connections to outside systems (core/integration): the data keys that seal
-- their secrets (envelope encryption under integrations.master_key), each
-- user's connection to a provider, the single-use OAuth states of a connect in
-- flight, and the references of records imported from outside.

-- A data key is 32 random bytes sealed (AES-256-GCM) under the master key.
-- The newest unretired key seals new secrets; `consilium keys rotate` makes a
-- new one, re-seals every secret under it and retires the keys nothing uses.
CREATE TABLE data_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at  timestamptz
);

CREATE TABLE connections (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider      text NOT NULL,
    state         text NOT NULL CHECK (state IN ('connected', 'needs_reauth', 'disconnected', 'error')),
    -- The credentials (a token, or an OAuth token with its refresh token),
    -- sealed under key_id with the row's user, provider and column as
    -- associated data. Never logged, never returned.
    credentials   bytea,
    key_id        uuid REFERENCES data_keys(id),
    scopes        text[] NOT NULL DEFAULT '{}',
    last_sync_at  timestamptz,
    next_sync_at  timestamptz,
    last_error    text,
    counts        jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Where the next Sync continues; written only in the transaction that
    -- stores the records it follows.
    sync_cursor   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, provider),
    CHECK ((credentials IS NULL) = (key_id IS NULL))
);
CREATE INDEX connections_due_idx ON connections (next_sync_at) WHERE state = 'connected';
CREATE INDEX connections_key_idx ON connections (key_id) WHERE key_id IS NOT NULL;

CREATE TABLE oauth_states (
    -- The state parameter is a random string; only its SHA-256 is stored.
    state_hash    bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider      text NOT NULL,
    -- The PKCE verifier, sealed like credentials (column "pkce_verifier",
    -- bound to the state's hash); NULL when the provider takes no PKCE.
    verifier      bytea,
    key_id        uuid REFERENCES data_keys(id),
    redirect_uri  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);
CREATE INDEX oauth_states_key_idx ON oauth_states (key_id) WHERE key_id IS NOT NULL;

CREATE TABLE external_refs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    system         text NOT NULL,
    external_id    text NOT NULL,
    -- The task the record became; NULL while it has none (or after the
    -- task was deleted here: the reference stays so it is not re-created).
    task_id        uuid,
    url            text NOT NULL DEFAULT '',
    last_synced_at timestamptz NOT NULL DEFAULT now(),
    sync_status    text NOT NULL DEFAULT 'synced' CHECK (sync_status IN ('synced', 'pending', 'error')),
    -- The fields as last synced, and the conflicts decided on them
    -- ([{field, ours, theirs, winner, at}]).
    snapshot       jsonb NOT NULL DEFAULT '{}'::jsonb,
    conflicts      jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, system, external_id)
);
CREATE INDEX external_refs_task_idx ON external_refs (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX external_refs_user_created_idx ON external_refs (user_id, created_at, id);

-- +goose Down
DROP TABLE external_refs;
DROP TABLE oauth_states;
DROP TABLE connections;
DROP TABLE data_keys;
