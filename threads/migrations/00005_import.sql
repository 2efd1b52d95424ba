-- +goose Up
-- Threading state of `postern import mbox` that outlives one run: an
-- archive imported from several files, or an interrupted import run again.

-- A Message-ID (its keyed hash, as message_ids keys client ids) that an
-- imported post referred to, nearer than the parent it was placed under
-- (for a question: any), but that had not been imported: once it is, the
-- post and its replies move under it (JWZ threading of out-of-order
-- archives). rank 0 is the nearest reference.
CREATE TABLE import_pending (
    message_id text     NOT NULL,
    post_id    bigint   NOT NULL REFERENCES posts (id),
    rank       smallint NOT NULL,
    PRIMARY KEY (message_id, post_id)
);
CREATE INDEX import_pending_post_idx ON import_pending (post_id, rank);

-- The latest imported question with a base subject (reply prefixes and
-- list tags removed, white space folded, lower case), by the first 16
-- bytes of the subject's SHA-256: a reply without known references whose
-- subject matches joins that question.
CREATE TABLE import_subjects (
    subject_hash bytea  PRIMARY KEY,
    question_id  bigint NOT NULL REFERENCES posts (id)
);

-- Imported replies placed in their question by subject alone (no known
-- reference): when that question moves under a parent found later, they
-- go to the parent's question (JWZ groups subjects among thread roots)
-- rather than under the question they joined.
CREATE TABLE import_subject_joined (
    post_id bigint PRIMARY KEY REFERENCES posts (id)
);

-- Addresses (keyed hashes) found in the text of posts being imported that
-- belonged to nobody yet: at the end of the run, those that became people
-- (senders met later in the archive) are redacted, and the rows go.
CREATE TABLE import_addresses (
    address_hash bytea  NOT NULL,
    post_id      bigint NOT NULL -- no foreign key: short-lived rows, many of them
);
CREATE INDEX import_addresses_post_idx ON import_addresses (post_id);

-- +goose Down
DROP TABLE import_addresses;
DROP TABLE import_subject_joined;
DROP TABLE import_subjects;
DROP TABLE import_pending;
