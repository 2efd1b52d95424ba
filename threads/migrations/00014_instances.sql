-- +goose Up
-- The running Postern instances (their River client ids) and when each
-- last showed it is alive. A job still "running" under an instance that
-- stopped beating was cut off by a crash: a live instance makes it
-- available again at once (Store.RescueOrphans) instead of River's hour.
CREATE TABLE instances (
    river_id     text        PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE instances;
