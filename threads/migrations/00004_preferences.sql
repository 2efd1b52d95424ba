-- +goose Up
-- Question2Answer's notification preferences, on by default for the
-- person's own posts: "email me if my question is answered or commented
-- on", "if my answer is selected or commented on", "if a comment is added
-- after mine". Following the forum or a category is a subscription.
ALTER TABLE people ADD COLUMN notify_my_questions boolean NOT NULL DEFAULT true;
ALTER TABLE people ADD COLUMN notify_my_answers boolean NOT NULL DEFAULT true;
ALTER TABLE people ADD COLUMN notify_after_my_comments boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE people DROP COLUMN notify_after_my_comments;
ALTER TABLE people DROP COLUMN notify_my_answers;
ALTER TABLE people DROP COLUMN notify_my_questions;
