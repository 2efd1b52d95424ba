-- +goose Up
-- Stopping mail must never fail. A follow that ends is kept with the time
-- it ended (history: `postern user export` shows it) instead of being
-- deleted, which the follow confirmation's reference to it blocked
-- (notifications_subscription_id_fkey): unsubscribing rolled back. Only
-- follows not ended are unique, so following again starts a new row that
-- is confirmed again (double opt-in). Erasing a person (`user forget`)
-- still deletes their follows: the reference then becomes NULL.
ALTER TABLE subscriptions ADD COLUMN ended_at timestamptz;
DROP INDEX subscriptions_unique_idx;
CREATE UNIQUE INDEX subscriptions_unique_idx ON subscriptions (person_id, scope, coalesce(category_id, 0), coalesce(question_id, 0))
    WHERE ended_at IS NULL;
ALTER TABLE notifications DROP CONSTRAINT notifications_subscription_id_fkey;
ALTER TABLE notifications ADD CONSTRAINT notifications_subscription_id_fkey
    FOREIGN KEY (subscription_id) REFERENCES subscriptions (id) ON DELETE SET NULL;

-- +goose Down
DELETE FROM subscriptions WHERE ended_at IS NOT NULL;
ALTER TABLE notifications DROP CONSTRAINT notifications_subscription_id_fkey;
ALTER TABLE notifications ADD CONSTRAINT notifications_subscription_id_fkey
    FOREIGN KEY (subscription_id) REFERENCES subscriptions (id);
DROP INDEX subscriptions_unique_idx;
CREATE UNIQUE INDEX subscriptions_unique_idx ON subscriptions (person_id, scope, coalesce(category_id, 0), coalesce(question_id, 0));
ALTER TABLE subscriptions DROP COLUMN ended_at;
