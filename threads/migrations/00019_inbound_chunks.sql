-- +goose Up
-- Messages of threads.StreamFrom bytes or more are stored as they arrive,
-- in sealed chunks (threads/chunks.go), instead of in inbound.sealed:
-- inbound.chunks is then their count (NULL: not chunked, or purged).
-- A chunk's associated data binds its row, index and whether it is the
-- last, so chunks cannot be reordered, dropped or moved to another row.
-- The chunks are written before their inbound row, which commits last
-- (the 250): chunks without a row are a session that failed, removed
-- by that session or, after a crash, by maintenance. No foreign key,
-- for that reason.
ALTER TABLE inbound ADD COLUMN chunks integer;
CREATE INDEX inbound_purge_chunks_idx ON inbound (processed_at) WHERE chunks IS NOT NULL;

CREATE TABLE inbound_chunks (
    id         bigserial   PRIMARY KEY,
    inbound_id bigint      NOT NULL, -- inbound.id, taken from its sequence before the row exists
    idx        integer     NOT NULL,
    final      boolean     NOT NULL,
    key_id     integer     NOT NULL,
    sealed     bytea       NOT NULL, -- AES-GCM of the chunk (the first starts with the envelope sender and a NUL)
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (inbound_id, idx)
);
-- Sealed bytes do not compress: store them out of line without trying.
ALTER TABLE inbound_chunks ALTER COLUMN sealed SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE inbound_chunks;
DROP INDEX inbound_purge_chunks_idx;
ALTER TABLE inbound DROP COLUMN chunks;
