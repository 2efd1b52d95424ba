-- +goose Up
-- Files that came with a post: attachments, inline images referenced by
-- cid: from the HTML body, attached messages (.eml). Stored with the post
-- in the same transaction; notifications link to them, never re-send them.
CREATE TABLE attachments (
    id           bigserial PRIMARY KEY,
    post_id      bigint  NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    filename     text    NOT NULL,
    content_type text    NOT NULL,
    size         integer NOT NULL,
    data         bytea   NOT NULL,
    content_id   text    NOT NULL DEFAULT '', -- without angle brackets
    inline       boolean NOT NULL DEFAULT false, -- shown in the body (cid: image)
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_post_idx ON attachments (post_id, id);

-- +goose Down
DROP TABLE attachments;
