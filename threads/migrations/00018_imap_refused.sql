-- +goose Up
-- The messages of IMAP mailboxes that were not stored (no recipient of
-- the forum's domain, over the size limit, not returned by the server):
-- they stay in their mailbox with the keyword $PosternFailed, and this
-- row, written in the transaction that moves the cursor past them
-- (Store.TakeIMAP), is what `postern inbound list --failed` shows of
-- them. mailbox is host:port/folder (never the user); message_id is ""
-- when the message was not fetched.
CREATE TABLE imap_refused (
    id          bigserial   PRIMARY KEY,
    mailbox_key text        NOT NULL,
    uidvalidity bigint      NOT NULL,
    uid         bigint      NOT NULL,
    mailbox     text        NOT NULL,
    message_id  text        NOT NULL DEFAULT '',
    size        bigint      NOT NULL,
    reason      text        NOT NULL,
    refused_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mailbox_key, uidvalidity, uid)
);

-- +goose Down
DROP TABLE imap_refused;
