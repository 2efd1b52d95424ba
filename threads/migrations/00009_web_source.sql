-- +goose Up
-- Mail written in the web form enters by the intake port like any other
-- (threads.SourceWeb). NOT VALID: every existing row passed the stricter
-- check this one replaces, so there is nothing to scan.
ALTER TABLE inbound
    DROP CONSTRAINT inbound_source_check,
    ADD CONSTRAINT inbound_source_check CHECK (source IN ('smtp', 'lmtp', 'imap', 'web', 'import')) NOT VALID;

-- +goose Down
-- Fails while a row from the web is stored.
ALTER TABLE inbound
    DROP CONSTRAINT inbound_source_check,
    ADD CONSTRAINT inbound_source_check CHECK (source IN ('smtp', 'lmtp', 'imap', 'import'));
