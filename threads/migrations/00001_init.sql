-- +goose Up
-- People are identified by a keyed hash of their normalised address; the
-- address itself is stored only encrypted (address_enc, sealed with key key_id).
CREATE TABLE people (
    id            bigserial PRIMARY KEY,
    display_name  text        NOT NULL DEFAULT '',
    address_hash  bytea       UNIQUE,
    address_enc   bytea,
    key_id        integer     NOT NULL DEFAULT 1,
    confirmed_at  timestamptz,
    suppressed_at timestamptz, -- hard bounces or complaints: nothing is sent
    unsubscribed_at timestamptz, -- the person stopped all notifications
    bounce_score  double precision NOT NULL DEFAULT 0,
    token_epoch   integer     NOT NULL DEFAULT 0,
    points        integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE categories (
    id         bigserial PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE posts (
    id             bigserial PRIMARY KEY,
    kind           text   NOT NULL CHECK (kind IN ('question', 'answer', 'comment')),
    question_id    bigint REFERENCES posts (id),
    parent_id      bigint REFERENCES posts (id),
    author_id      bigint NOT NULL REFERENCES people (id),
    title          text   NOT NULL DEFAULT '',
    body           text   NOT NULL,
    elided         text   NOT NULL DEFAULT '',
    category_id    bigint REFERENCES categories (id),
    state          text   NOT NULL DEFAULT 'visible' CHECK (state IN ('held', 'visible', 'closed', 'hidden')),
    votes          integer NOT NULL DEFAULT 0,
    best_answer_id bigint REFERENCES posts (id),
    message_id     text   NOT NULL UNIQUE, -- forum Message-ID, no address in it
    client_msgid   bytea,  -- sealed: the author's own client Message-ID, for their threading only
    created_at     timestamptz NOT NULL DEFAULT now(),
    edited_at      timestamptz
);
CREATE INDEX posts_held_idx ON posts (created_at) WHERE state = 'held';
CREATE INDEX posts_author_idx ON posts (author_id);
CREATE INDEX posts_question_idx ON posts (question_id, id);
CREATE INDEX posts_parent_idx ON posts (parent_id, id);
CREATE INDEX posts_questions_recent_idx ON posts (id DESC) WHERE kind = 'question';

CREATE TABLE votes (
    post_id    bigint   NOT NULL REFERENCES posts (id),
    person_id  bigint   NOT NULL REFERENCES people (id),
    value      smallint NOT NULL CHECK (value IN (-1, 1)),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, person_id)
);

-- Every Message-ID Postern has sent (out, in clear: they contain no address)
-- or received (in, as a keyed hash: client ids may contain addresses),
-- mapped to a post, so threading a reply is one indexed lookup.
CREATE TABLE message_ids (
    message_id   text   PRIMARY KEY,
    post_id      bigint NOT NULL REFERENCES posts (id),
    direction    text   NOT NULL CHECK (direction IN ('in', 'out')),
    recipient_id bigint REFERENCES people (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Raw inbound mail, kept (sealed: it contains addresses) until processed
-- and for a retention period after, then purged.
CREATE TABLE inbound (
    id             bigserial PRIMARY KEY,
    dedup_key      bytea       NOT NULL UNIQUE,
    message_id     text        NOT NULL, -- as received, for operators; purged with raw
    mail_from_hash bytea,                -- keyed hash of the envelope sender (rate limits)
    rcpt           text[]      NOT NULL, -- forum addresses only
    remote_ip      text        NOT NULL DEFAULT '',
    source         text        NOT NULL CHECK (source IN ('smtp', 'lmtp', 'imap', 'import')),
    key_id         integer     NOT NULL,
    sealed         bytea,                -- AES-GCM(envelope sender NUL raw message); NULL once purged
    size           integer     NOT NULL,
    state          text        NOT NULL DEFAULT 'accepted' CHECK (state IN ('accepted', 'processed', 'ignored', 'failed')),
    reason         text        NOT NULL DEFAULT '',
    post_id        bigint REFERENCES posts (id),
    sender_id      bigint REFERENCES people (id),
    auth_dkim      text        NOT NULL DEFAULT '',
    auth_dmarc     text        NOT NULL DEFAULT '',
    received_at    timestamptz NOT NULL DEFAULT now(),
    processed_at   timestamptz,
    purged_at      timestamptz
);
CREATE INDEX inbound_sender_recent_idx ON inbound (mail_from_hash, received_at);
CREATE INDEX inbound_ip_recent_idx ON inbound (remote_ip, received_at);
CREATE INDEX inbound_purge_idx ON inbound (processed_at) WHERE sealed IS NOT NULL;
CREATE INDEX inbound_state_idx ON inbound (state, id);

-- What a person asked to be told about. scope 'all' = every new question,
-- 'category' = new questions in category_id, 'question' = activity on question_id.
CREATE TABLE subscriptions (
    id          bigserial PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES people (id),
    scope       text   NOT NULL CHECK (scope IN ('all', 'category', 'question')),
    category_id bigint REFERENCES categories (id),
    question_id bigint REFERENCES posts (id),
    confirmed_at timestamptz, -- double opt-in: inactive until the person confirms
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX subscriptions_unique_idx ON subscriptions (person_id, scope, coalesce(category_id, 0), coalesce(question_id, 0));
CREATE INDEX subscriptions_scope_idx ON subscriptions (scope, category_id);

-- One row per notification email: the dispatcher's record that makes sending idempotent.
CREATE TABLE notifications (
    id           bigserial PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES people (id),
    post_id      bigint REFERENCES posts (id),
    kind         text   NOT NULL,
    message_id   text   NOT NULL UNIQUE,
    state        text   NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
    error        text   NOT NULL DEFAULT '',
    inbound_id   bigint REFERENCES inbound (id), -- the message that caused it (confirmations, replies)
    subscription_id bigint REFERENCES subscriptions (id), -- for follow confirmations
    note         text   NOT NULL DEFAULT '', -- the reason, for rejected and unsubscribed mail
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    UNIQUE (person_id, post_id, kind)
);
CREATE INDEX notifications_person_kind_idx ON notifications (person_id, kind, created_at);
CREATE INDEX notifications_pending_idx ON notifications (person_id) WHERE state = 'pending';

-- Questions a person stopped following ("unsubscribe from this thread").
CREATE TABLE mutes (
    person_id   bigint NOT NULL REFERENCES people (id),
    question_id bigint NOT NULL REFERENCES posts (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, question_id)
);

-- Bounces received, by notification.
CREATE TABLE bounces (
    id              bigserial PRIMARY KEY,
    person_id       bigint REFERENCES people (id),
    notification_id bigint REFERENCES notifications (id),
    status          text NOT NULL DEFAULT '',
    hard            boolean NOT NULL,
    inbound_id      bigint REFERENCES inbound (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE bounces;
DROP TABLE mutes;
DROP TABLE notifications;
DROP TABLE subscriptions;
DROP TABLE inbound;
DROP TABLE message_ids;
DROP TABLE votes;
DROP TABLE posts;
DROP TABLE categories;
DROP TABLE people;
