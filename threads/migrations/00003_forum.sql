-- +goose Up
-- The whole forum by email: tags, edit history, moderators and the
-- moderation queue, command confirmations.
ALTER TABLE posts ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE posts ADD COLUMN duplicate_of bigint REFERENCES posts (id);
ALTER TABLE posts DROP CONSTRAINT posts_state_check;
-- queued: waiting for a moderator (held: waiting for the author's confirmation).
ALTER TABLE posts ADD CONSTRAINT posts_state_check CHECK (state IN ('held', 'queued', 'visible', 'closed', 'hidden'));
CREATE INDEX posts_queued_idx ON posts (id) WHERE state = 'queued';

-- Every earlier version of an edited post.
CREATE TABLE post_edits (
    id         bigserial PRIMARY KEY,
    post_id    bigint NOT NULL REFERENCES posts (id),
    body       text   NOT NULL,
    edited_by  bigint NOT NULL REFERENCES people (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_edits_post_idx ON post_edits (post_id, id);

ALTER TABLE people ADD COLUMN moderator boolean NOT NULL DEFAULT false;
ALTER TABLE people ADD COLUMN command_confirmations boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE people DROP COLUMN command_confirmations;
ALTER TABLE people DROP COLUMN moderator;
DROP TABLE post_edits;
DROP INDEX posts_queued_idx;
ALTER TABLE posts DROP CONSTRAINT posts_state_check;
ALTER TABLE posts ADD CONSTRAINT posts_state_check CHECK (state IN ('held', 'visible', 'closed', 'hidden'));
ALTER TABLE posts DROP COLUMN duplicate_of;
ALTER TABLE posts DROP COLUMN tags;
