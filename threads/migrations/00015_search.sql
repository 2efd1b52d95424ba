-- +goose Up
-- Full-text search of the public pages (Store.WebSearch): every post's
-- words, its title weighted A and its body B, kept by PostgreSQL itself
-- (a stored generated column: no trigger to forget), with a GIN index.
-- The configuration is 'english': the forum's pages are English, and
-- stemming lets "sleeping" find "sleep"; the query uses the same one
-- (threads/websearch.go). The quoted text trimmed from a mail (elided)
-- is not searched: the page folds it away. Adding the column rewrites
-- posts once.
ALTER TABLE posts ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title), 'A') ||
    setweight(to_tsvector('english'::regconfig, body), 'B')
) STORED;
CREATE INDEX posts_search_idx ON posts USING gin (search);

-- +goose Down
DROP INDEX posts_search_idx;
ALTER TABLE posts DROP COLUMN search;
