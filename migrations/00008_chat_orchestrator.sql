-- +goose Up
-- The chat orchestrator: runs that wait for the user's approval, the state a
-- waiting run resumes from, the approvals, and the audit log of every tool
-- call an agent made. See core/chat (orchestrator.go, executor.go).
ALTER TABLE chat_runs DROP CONSTRAINT chat_runs_status_check;
ALTER TABLE chat_runs ADD CONSTRAINT chat_runs_status_check
    CHECK (status IN ('queued', 'running', 'waiting_approval', 'completed', 'cancelled', 'failed', 'budget_exceeded'));
-- Where a turn stopped to wait for an approval (its agents' transcripts and
-- counters); the job that resumes it after the answer starts from here.
ALTER TABLE chat_runs ADD COLUMN state jsonb;
-- The title is still the first words of the first message (set by a send):
-- the model may replace it after the first exchange; a title the user set
-- is never replaced.
ALTER TABLE conversations ADD COLUMN title_auto boolean NOT NULL DEFAULT false;

CREATE TABLE chat_approvals (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    run_id          uuid NOT NULL REFERENCES chat_runs(id) ON DELETE CASCADE,
    -- The call it is asked for (chat_tool_calls.idempotency_key): one
    -- approval per call, whatever attempt asks.
    idempotency_key text NOT NULL UNIQUE,
    agent           text NOT NULL,
    tool            text NOT NULL,
    call_id         text NOT NULL,
    arguments       jsonb NOT NULL,
    effect          text NOT NULL,
    -- Why it waits: destructive, external, bulk or untrusted.
    reason          text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'allowed', 'denied')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    answered_at     timestamptz
);
CREATE INDEX chat_approvals_run_idx ON chat_approvals (run_id);

-- Every tool call, written once when it has an outcome (append-only: a
-- trigger refuses updates). A write and its row commit in one transaction,
-- keyed by idempotency_key (the run and the call's position in the turn),
-- so a retried turn finds the row and replays the stored result instead of
-- writing again. Kept when the conversation is deleted; gone with the user.
CREATE TABLE chat_tool_calls (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL,
    run_id          uuid NOT NULL,
    agent           text NOT NULL,
    tool            text NOT NULL,
    call_id         text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    arguments       jsonb NOT NULL,
    effect          text NOT NULL,
    -- completed | failed (the tool refused or erred; nothing was written) |
    -- denied (the user said no) | rejected (no such tool for this agent,
    -- or a budget)
    status          text NOT NULL CHECK (status IN ('completed', 'failed', 'denied', 'rejected')),
    result_summary  text NOT NULL DEFAULT '',
    -- What the model was given, to replay: {content, citations, untrusted}.
    result          jsonb NOT NULL DEFAULT '{}'::jsonb,
    approval_id     uuid,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_tool_calls_user_idx ON chat_tool_calls (user_id, finished_at DESC);
CREATE INDEX chat_tool_calls_run_idx ON chat_tool_calls (run_id);

-- +goose StatementBegin
CREATE FUNCTION chat_tool_calls_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'chat_tool_calls is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER chat_tool_calls_no_update BEFORE UPDATE ON chat_tool_calls
    FOR EACH ROW EXECUTE FUNCTION chat_tool_calls_append_only();

-- +goose Down
DROP TABLE chat_tool_calls;
DROP FUNCTION chat_tool_calls_append_only();
DROP TABLE chat_approvals;
ALTER TABLE conversations DROP COLUMN title_auto;
ALTER TABLE chat_runs DROP COLUMN state;
UPDATE chat_runs SET status = 'failed' WHERE status = 'waiting_approval';
ALTER TABLE chat_runs DROP CONSTRAINT chat_runs_status_check;
ALTER TABLE chat_runs ADD CONSTRAINT chat_runs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed', 'budget_exceeded'));
