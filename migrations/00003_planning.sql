-- +goose Up
CREATE TABLE goals (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title          text NOT NULL,
    description    text NOT NULL DEFAULT '',
    timeframe      text NOT NULL DEFAULT 'long_term'
                   CHECK (timeframe IN ('long_term', 'yearly', 'quarterly', 'monthly', 'weekly', 'daily')),
    -- Deleting a parent is refused (409) unless cascade=true, done in code so
    -- tasks can be unlinked; the FK only guards integrity.
    parent_goal_id uuid REFERENCES goals(id) ON DELETE CASCADE,
    status         text NOT NULL DEFAULT 'not_started'
                   CHECK (status IN ('not_started', 'in_progress', 'completed', 'deferred', 'abandoned')),
    -- The manually set progress; the effective one is computed on read.
    progress       integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    -- NULL: never chosen (auto once the goal has tasks or children).
    progress_mode  text CHECK (progress_mode IN ('manual', 'auto')),
    priority       text NOT NULL DEFAULT 'medium' CHECK (priority IN ('high', 'medium', 'low')),
    due_date       date,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    search         tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || description)) STORED
);
CREATE INDEX goals_user_created_idx ON goals (user_id, created_at DESC, id DESC);
CREATE INDEX goals_user_parent_idx ON goals (user_id, parent_goal_id);
CREATE INDEX goals_search_idx ON goals USING gin (search);

CREATE TABLE reflections (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content         text NOT NULL,
    reflection_type text NOT NULL
                    CHECK (reflection_type IN ('daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'goal_review')),
    goal_id         uuid REFERENCES goals(id) ON DELETE SET NULL,
    period_start    date,
    period_end      date,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    search          tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED
);
CREATE INDEX reflections_user_created_idx ON reflections (user_id, created_at DESC, id DESC);
CREATE INDEX reflections_user_goal_idx ON reflections (user_id, goal_id) WHERE goal_id IS NOT NULL;
CREATE INDEX reflections_search_idx ON reflections USING gin (search);

-- A task's completed_at is the moment it became completed, cleared when it
-- leaves that state. Every writer of the index gets it from this trigger:
-- an update that does not touch the column keeps the earlier moment.
ALTER TABLE tasks ADD COLUMN completed_at timestamptz;
UPDATE tasks SET completed_at = updated_at WHERE status = 'completed';
CREATE INDEX tasks_user_completed_idx ON tasks (user_id, completed_at) WHERE completed_at IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION tasks_set_completed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'completed' THEN
        IF NEW.completed_at IS NULL THEN
            NEW.completed_at := now();
        END IF;
    ELSE
        NEW.completed_at := NULL;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER tasks_completed_at BEFORE INSERT OR UPDATE OF status, completed_at ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_set_completed_at();

-- +goose Down
DROP TRIGGER tasks_completed_at ON tasks;
DROP FUNCTION tasks_set_completed_at();
ALTER TABLE tasks DROP COLUMN completed_at;
DROP TABLE reflections;
DROP TABLE goals;
