-- +goose Up
-- Two-way sync of outside tasks into notes (core/integration).

-- The notes that hold each outside list's tasks: part 1 is the list's note
-- ("ClickUp — Sprint"), parts 2, 3, ... its continuations once a note holds
-- as many blocks as a document may. Deleting a note forgets it here; the
-- next sync makes a new one.
CREATE TABLE external_lists (
    user_id    uuid NOT NULL,
    system     text NOT NULL,
    -- The list's id outside ('' for tasks in no list).
    list_id    text NOT NULL,
    part       integer NOT NULL DEFAULT 1 CHECK (part >= 1),
    note_id    uuid NOT NULL,
    name       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, system, list_id, part),
    FOREIGN KEY (note_id, user_id) REFERENCES notes (id, user_id) ON DELETE CASCADE
);
CREATE INDEX external_lists_note_idx ON external_lists (note_id);

-- state: active (the record has its task block), deleted (gone outside),
-- cleaned (completed outside and cleaned out of the notes after the grace
-- period), removed (the user deleted the task here). A reference that is
-- not active keeps a record from being imported again.
ALTER TABLE external_refs
    ADD COLUMN state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'deleted', 'cleaned', 'removed')),
    ADD COLUMN list_id text NOT NULL DEFAULT '',
    ADD COLUMN parent_external_id text NOT NULL DEFAULT '',
    -- The record's own change time as last seen or pushed.
    ADD COLUMN remote_updated_at timestamptz,
    -- The full sync (connections.full_sync_gen) that last saw the record.
    ADD COLUMN seen_gen bigint NOT NULL DEFAULT 0;
CREATE INDEX external_refs_parent_idx ON external_refs (user_id, system, parent_external_id) WHERE parent_external_id <> '';

-- A full sync (no cursor, or a page with Reset) counts up full_sync_gen;
-- its last page finds the references it did not see: gone outside.
ALTER TABLE connections
    ADD COLUMN full_sync_gen bigint NOT NULL DEFAULT 0,
    ADD COLUMN full_sync_open boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE connections DROP COLUMN full_sync_open, DROP COLUMN full_sync_gen;
DROP INDEX external_refs_parent_idx;
ALTER TABLE external_refs DROP COLUMN seen_gen, DROP COLUMN remote_updated_at, DROP COLUMN parent_external_id,
    DROP COLUMN list_id, DROP COLUMN state;
DROP TABLE external_lists;
