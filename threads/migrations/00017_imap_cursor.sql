-- +goose Up
-- Where reading each IMAP mailbox has got to (Store.TakeIMAP): the
-- mailbox's UIDVALIDITY and the highest UID whose message is stored (or
-- was refused), written in the transaction that stores those messages,
-- so that a restart neither loses one nor stores one twice. The key is a
-- hash of user, server and folder (imapurl.Mailbox.Key): no address.
CREATE TABLE imap_cursors (
    mailbox_key text        PRIMARY KEY,
    uidvalidity bigint      NOT NULL,
    last_uid    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE imap_cursors;
