-- +goose Up
-- Chat: conversations, their messages, the runs that answer them (one per
-- user message, worked by a River job), the event log that streams a run to
-- sockets on any API process, and the single-use tickets that open a socket
-- from a browser. See core/chat.
CREATE TABLE conversations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title            text NOT NULL DEFAULT '',
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The seq of the conversation's last event. Every transaction that
    -- appends events takes its seqs from this counter (and so holds the
    -- row's lock until it commits): seqs have no gaps, and commit in order.
    last_event_seq   bigint NOT NULL DEFAULT 0,
    -- Events up to this seq were pruned (core/chat.EventRetention): a
    -- client resuming from before it is told to resync.
    pruned_event_seq bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_message_at  timestamptz
);
-- Lists show the most recently active conversation first.
CREATE INDEX conversations_user_active_idx ON conversations (user_id, (coalesce(last_message_at, created_at)) DESC, id DESC);

CREATE TABLE chat_runs (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id     uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    -- The user's message the run answers (the FK is added below).
    message_id          uuid NOT NULL,
    agent_id            text NOT NULL,
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed', 'budget_exceeded')),
    -- Set by run.cancel; the worker running the run hears it through
    -- NOTIFY chat_cancel and stops.
    cancel_requested_at timestamptz,
    error_code          text,
    error_message       text,
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
);
CREATE INDEX chat_runs_conversation_idx ON chat_runs (conversation_id, created_at);
CREATE INDEX chat_runs_user_active_idx ON chat_runs (user_id) WHERE status IN ('queued', 'running');

CREATE TABLE chat_messages (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    -- Order of insertion: messages written in one transaction share
    -- created_at. Writers lock the conversation first, so pos also follows
    -- commit order and a cursor on it never skips a late commit.
    pos             bigint GENERATED ALWAYS AS IDENTITY,
    role            text NOT NULL CHECK (role IN ('user', 'assistant', 'tool', 'system')),
    content         text NOT NULL,
    agent_id        text,
    -- A user's message: the run it started; others: the run that wrote it.
    -- Deferred: a message and its run are inserted in one transaction.
    run_id          uuid REFERENCES chat_runs(id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    -- The client's id of a sent message: a repeat answers the first send.
    client_msg_id   uuid,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_conversation_idx ON chat_messages (conversation_id, pos);
CREATE UNIQUE INDEX chat_messages_client_msg_idx ON chat_messages (user_id, conversation_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
ALTER TABLE chat_runs ADD CONSTRAINT chat_runs_message_fk
    FOREIGN KEY (message_id) REFERENCES chat_messages(id) ON DELETE CASCADE;

-- The event log of each conversation, read by sockets and SSE streams
-- (after a NOTIFY chat_events '<conversation_id>:<last seq>' per batch)
-- and by clients resuming after a drop.
CREATE TABLE chat_events (
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    run_id          uuid,
    type            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX chat_events_created_idx ON chat_events (created_at);

-- Tickets open a socket where a browser cannot send a bearer header:
-- short-lived, single-use, stored only as a SHA-256 hash.
CREATE TABLE chat_tickets (
    hash            bytea PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_tickets_expires_idx ON chat_tickets (expires_at);

-- +goose Down
DROP TABLE chat_tickets;
DROP TABLE chat_events;
ALTER TABLE chat_runs DROP CONSTRAINT chat_runs_message_fk;
DROP TABLE chat_messages;
DROP TABLE chat_runs;
DROP TABLE conversations;
