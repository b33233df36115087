-- +goose Up
-- Full-text search reads a narrow copy of the chunks' words instead of the
-- chunks themselves: a chunk row carries its 1.5 kB vector in the heap
-- page, so checking a few hundred matches per word of a question read as
-- many wide pages (p95 46 ms for a user with 100,000 chunks). Only chunks
-- that are searched (not hidden) have a row; triggers keep it in step with
-- chunks. A user with very many chunks also gets a GIN index of their own
-- over this table (built with their HNSW index, see core/ai).
CREATE TABLE chunk_search (
    chunk_id    bigint PRIMARY KEY,
    user_id     uuid NOT NULL,
    note_id     uuid,
    document_id uuid,
    -- Words of the passage weigh A, those of its title and headings B.
    search      tsvector NOT NULL
);
CREATE INDEX chunk_search_user_search_idx ON chunk_search USING gin (user_id, search);

-- +goose StatementBegin
CREATE FUNCTION chunk_search_words(title text, heading text, body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple', title || ' ' || heading), 'B') || setweight(to_tsvector('simple', body), 'A')
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION chunk_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM chunk_search s USING old_rows o WHERE s.chunk_id = o.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO chunk_search (chunk_id, user_id, note_id, document_id, search)
        SELECT n.id, n.user_id, n.note_id, n.document_id, chunk_search_words(n.title, n.heading, n.text)
        FROM new_rows n WHERE NOT n.hidden;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER chunk_search_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chunk_search_sync();
CREATE TRIGGER chunk_search_update AFTER UPDATE ON chunks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chunk_search_sync();
CREATE TRIGGER chunk_search_delete AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chunk_search_sync();

INSERT INTO chunk_search (chunk_id, user_id, note_id, document_id, search)
SELECT id, user_id, note_id, document_id, search FROM chunks WHERE NOT hidden;

DROP INDEX chunks_user_search_idx;
ALTER TABLE chunks DROP COLUMN search;

-- +goose Down
DROP TRIGGER chunk_search_insert ON chunks;
DROP TRIGGER chunk_search_update ON chunks;
DROP TRIGGER chunk_search_delete ON chunks;
ALTER TABLE chunks ADD COLUMN search tsvector NOT NULL GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title || ' ' || heading), 'B') || setweight(to_tsvector('simple', text), 'A')) STORED;
CREATE INDEX chunks_user_search_idx ON chunks USING gin (user_id, search);
DROP TABLE chunk_search;
DROP FUNCTION chunk_search_sync();
DROP FUNCTION chunk_search_words(text, text, text);
