-- +goose Up
-- A person's points (pointsSQL) count their posts by kind and state and
-- the best answers on both sides. With only (author_id) indexed, each
-- count read every post of the person from the heap and the two
-- best-answer counts scanned all posts: 0.44 s for a person with 75,000
-- answers, paid for each post of theirs on a question page (a page of
-- 1,500 such answers took 376 s). These indexes make each count an
-- index-only scan or a lookup among the few questions with a best
-- answer (22 ms for the same person). The (author_id, kind, state) index
-- replaces the (author_id) one, whose lookups it serves.
CREATE INDEX posts_author_kind_idx ON posts (author_id, kind, state);
DROP INDEX posts_author_idx;
CREATE INDEX posts_best_answer_idx ON posts (best_answer_id) WHERE best_answer_id IS NOT NULL;
CREATE INDEX posts_author_best_idx ON posts (author_id) WHERE best_answer_id IS NOT NULL;

-- +goose Down
DROP INDEX posts_author_best_idx;
DROP INDEX posts_best_answer_idx;
CREATE INDEX posts_author_idx ON posts (author_id);
DROP INDEX posts_author_kind_idx;
