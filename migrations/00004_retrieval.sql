-- +goose Up

-- btree_gin lets one GIN index serve "this user's chunks containing this
-- word" without visiting other users' rows.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- Documents a user uploaded to be asked about. The upload is kept only
-- until a job has extracted, chunked and embedded it.
CREATE TABLE documents (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title        text NOT NULL,
    filename     text NOT NULL DEFAULT '',
    -- text/plain, text/markdown, text/html or application/pdf.
    media_type   text NOT NULL,
    size_bytes   bigint NOT NULL,
    source       bytea,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    -- Why the last attempt failed (also set while a retry is pending).
    error        text,
    chunk_count  integer NOT NULL DEFAULT 0,
    embedding_model text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    UNIQUE (id, user_id)
);
CREATE INDEX documents_user_created_idx ON documents (user_id, created_at, id);
CREATE INDEX documents_user_status_idx ON documents (user_id, status);

-- Passages of notes and documents with their embeddings. A note's chunks
-- follow its blocks and remember their ids. Every row records the model
-- that embedded it, so vectors of two models are never compared; the column
-- has no fixed dimension, and each model gets its own partial HNSW index
-- over a cast to its dimension (created by the application when the model
-- is first used, see core/ai). A source's chunks are always replaced
-- together, so they share one model.
CREATE TABLE chunks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         uuid NOT NULL,
    note_id         uuid,
    document_id     uuid,
    position        integer NOT NULL,
    block_ids       text[] NOT NULL DEFAULT '{}',
    -- The source's title when it was embedded, and the heading path above
    -- the passage ("Trip › Packing", or "page 3" in a PDF).
    title           text NOT NULL DEFAULT '',
    heading         text NOT NULL DEFAULT '',
    text            text NOT NULL,
    -- Words of the passage weigh A, those of its title and headings B.
    search          tsvector NOT NULL GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title || ' ' || heading), 'B') || setweight(to_tsvector('simple', text), 'A')) STORED,
    embedding_model text NOT NULL,
    embedding       vector NOT NULL,
    -- Chunks of archived notes stay but are not searched.
    hidden          boolean NOT NULL DEFAULT false,
    CHECK ((note_id IS NULL) <> (document_id IS NULL)),
    FOREIGN KEY (note_id, user_id) REFERENCES notes (id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (document_id, user_id) REFERENCES documents (id, user_id) ON DELETE CASCADE
);
-- Keep rows (a 384-dimension vector is 1.5 kB) in the heap page instead of
-- TOAST, so that exact scans over a user's rows read one page per row.
ALTER TABLE chunks SET (toast_tuple_target = 8160);
CREATE INDEX chunks_note_idx ON chunks (note_id, position) WHERE note_id IS NOT NULL;
CREATE INDEX chunks_document_idx ON chunks (document_id, position) WHERE document_id IS NOT NULL;
CREATE INDEX chunks_user_model_idx ON chunks (user_id, embedding_model);
CREATE INDEX chunks_user_search_idx ON chunks USING gin (user_id, search);

-- Where each note stands in the index. A save that changes its text sets it
-- pending and queues an embedding job in the same transaction.
CREATE TABLE note_embeddings (
    note_id         uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    error           text,
    -- What the chunks reflect: a hash of title and content, and the model.
    embedded_hash   bytea,
    embedding_model text,
    chunk_count     integer NOT NULL DEFAULT 0,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    embedded_at     timestamptz,
    FOREIGN KEY (note_id, user_id) REFERENCES notes (id, user_id) ON DELETE CASCADE
);
CREATE INDEX note_embeddings_user_status_idx ON note_embeddings (user_id, status);

-- The HNSW indexes the application built on chunks: one per embedding
-- model, plus one per model for each user with very many chunks (a filter
-- on user_id over the shared index loses recall for such users).
CREATE TABLE vector_indexes (
    name            text PRIMARY KEY,
    embedding_model text NOT NULL,
    dimension       integer NOT NULL,
    user_id         uuid,
    state           text NOT NULL CHECK (state IN ('building', 'ready', 'failed')),
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    ready_at        timestamptz
);
CREATE UNIQUE INDEX vector_indexes_model_user_idx ON vector_indexes (embedding_model, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid));

-- +goose Down
DROP TABLE vector_indexes;
DROP TABLE note_embeddings;
DROP TABLE chunks;
DROP TABLE documents;
