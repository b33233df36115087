-- +goose Up
-- Mail read from connected mailboxes (core/integration, mail.go): the
-- messages as synced, what the scan made of each, and the suggestions that
-- wait for the user.

-- A message is stored once per user and provider, in the transaction of
-- the sync page that brought it. Its text is untrusted: it is read by the
-- scan (rules, or a model call that holds no tools) and never by an agent
-- that can write.
CREATE TABLE emails (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connection_id     uuid REFERENCES connections(id) ON DELETE SET NULL,
    provider          text NOT NULL,
    -- The provider's id of the message (Gmail's message id).
    message_id        text NOT NULL,
    thread_id         text NOT NULL DEFAULT '',
    -- The Message-ID header (without angle brackets), and the ones the
    -- message answers (In-Reply-To, References).
    header_message_id text NOT NULL DEFAULT '',
    in_reply_to       text NOT NULL DEFAULT '',
    "references"      text[] NOT NULL DEFAULT '{}',
    sender            text NOT NULL DEFAULT '',
    subject           text NOT NULL DEFAULT '',
    snippet           text NOT NULL DEFAULT '',
    -- The body as text, cut at 32 KiB.
    body              text NOT NULL DEFAULT '',
    url               text NOT NULL DEFAULT '',
    received_at       timestamptz NOT NULL,
    -- Set by the scan: what it made of the message (none, task, suggestion,
    -- reply) and which extractor decided (rules or model).
    scanned_at        timestamptz,
    outcome           text CHECK (outcome IN ('none', 'task', 'suggestion', 'reply')),
    extractor         text CHECK (extractor IN ('rules', 'model')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, provider, message_id),
    CHECK (length(body) <= 32768)
);
CREATE INDEX emails_unscanned_idx ON emails (connection_id, received_at, id) WHERE scanned_at IS NULL;
CREATE INDEX emails_thread_idx ON emails (user_id, provider, thread_id);
CREATE INDEX emails_header_idx ON emails (user_id, header_message_id) WHERE header_message_id <> '';

-- Requests the scan was not sure enough of (or all of them, with the
-- preference email_review_all): accepted into a task, or dismissed. One per
-- message.
CREATE TABLE mail_suggestions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email_id    uuid NOT NULL UNIQUE REFERENCES emails(id) ON DELETE CASCADE,
    title       text NOT NULL,
    due_date    date,
    priority    text CHECK (priority IN ('high', 'medium', 'low')),
    confidence  double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    extractor   text NOT NULL CHECK (extractor IN ('rules', 'model')),
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'dismissed')),
    task_id     uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_suggestions_user_idx ON mail_suggestions (user_id, created_at, id);

-- A reference's own facts: for system email the message and thread ids
-- and the replies attached to its task.
ALTER TABLE external_refs ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb;

-- +goose Down
ALTER TABLE external_refs DROP COLUMN metadata;
DROP TABLE mail_suggestions;
DROP TABLE emails;
