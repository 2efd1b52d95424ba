-- +goose Up
-- Sign-in by email (threads/websession.go). web_signin_requests counts
-- the requests of each client network, whether or not the address given
-- was a member's, for the per-network limit. A sign-in link is a
-- notification of kind 'signin'; the session it opened names it, once
-- (signin_notification is unique: a link signs in once). A session is
-- valid while the person's token epoch is the one it was opened under:
-- "sign out everywhere" bumps the epoch.
CREATE TABLE web_signin_requests (
    client     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX web_signin_requests_client ON web_signin_requests (client, created_at);

CREATE TABLE web_sessions (
    id_hash             bytea       PRIMARY KEY,
    person_id           bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    epoch               integer     NOT NULL,
    signin_notification bigint      NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL
);
CREATE INDEX web_sessions_person ON web_sessions (person_id);

-- A form posted by a signed-in member: the session is the evidence that
-- the member wrote it (threads.EvidenceSession), recorded with the
-- inbound row in its transaction.
CREATE TABLE web_member_posts (
    inbound_id bigint PRIMARY KEY REFERENCES inbound (id) ON DELETE CASCADE,
    person_id  bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE
);

-- A guest's web post (POSTERN_WEB_GUESTS): its client network, for the
-- per-network limit, and the hash of the form, so that sending the same
-- form twice posts once.
CREATE TABLE web_guest_posts (
    post_id    bigint      PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    client     text        NOT NULL,
    dedup      bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX web_guest_posts_client ON web_guest_posts (client, created_at);

-- +goose Down
DROP TABLE web_guest_posts;
DROP TABLE web_member_posts;
DROP TABLE web_sessions;
DROP TABLE web_signin_requests;
