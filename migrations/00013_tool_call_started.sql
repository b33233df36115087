-- +goose Up
-- An outside app's tool (effect external) runs at most once: its audit row
-- is written as 'started' before the call and finished after it. A retried
-- turn that finds a 'started' row does not call again: the outcome is
-- unknown, and the model is told so (core/chat, executor.go).
ALTER TABLE chat_tool_calls DROP CONSTRAINT chat_tool_calls_status_check;
ALTER TABLE chat_tool_calls ADD CONSTRAINT chat_tool_calls_status_check
    CHECK (status IN ('started', 'completed', 'failed', 'denied', 'rejected'));

-- +goose Down
UPDATE chat_tool_calls SET status = 'failed' WHERE status = 'started';
ALTER TABLE chat_tool_calls DROP CONSTRAINT chat_tool_calls_status_check;
ALTER TABLE chat_tool_calls ADD CONSTRAINT chat_tool_calls_status_check
    CHECK (status IN ('completed', 'failed', 'denied', 'rejected'));
