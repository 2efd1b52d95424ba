package threads

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// Sign-in by email, no passwords. Its contract:
//
//   - A link is mailed only to a member who can be written to: confirmed,
//     not suppressed after bounces, not stopped from all mail (anyone can
//     type an address into the form, so a request is no evidence), at
//     most SignInsPerHour links an hour. Whether an address is a
//     member's is never told to the requester: RequestSignIn answers the
//     same for all, except a network over its limit.
//   - The link (token.SignIn, subject the notification that carried it)
//     signs in once, within SignInTTL of its request, and only while the
//     person's token epoch is the one it was minted under.
//   - A session is a random value the browser keeps; the store keeps only
//     its SHA-256. It lasts SessionTTL and ends earlier when signed out,
//     or when the person's epoch moves (SignOutEverywhere, forgetting).

// Limits of sign-in.
const (
	SignInTTL            = 30 * time.Minute
	SessionTTL           = 30 * 24 * time.Hour
	SignInsPerHour       = 3  // links mailed to one person
	SignInRequestsPerNet = 10 // requests from one client network an hour
)

// ErrSignInLimited means the client's network asked for too many sign-in
// links in the last hour.
var ErrSignInLimited = errors.New("too many sign-in requests from this network")

// ErrSignInLink means a sign-in link does not verify, has expired, was
// used already, or was revoked.
var ErrSignInLink = errors.New("sign-in link not valid")

// Member is the person a web session signed in.
type Member struct {
	ID          int64
	DisplayName string
}

// person is m as the Person the forum's actions take: a confirmed
// member (the sign-in link proved the address).
func (m Member) person() Person { return Person{ID: m.ID, DisplayName: m.DisplayName, Confirmed: true} }

// RequestSignIn records a sign-in request from client (clientKey's
// network) for address addr, and mails the link when addr is a member's
// that may be written to (see the contract above). It returns
// ErrSignInLimited when client is over its limit; nil otherwise, whether
// or not a link was sent.
func (s *Store) RequestSignIn(ctx context.Context, addr, client string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, sqlRecordSignInRequest, client).Scan(&n); err != nil {
			return fmt.Errorf("sign-in request: %w", err)
		}
		if n > SignInRequestsPerNet {
			return ErrSignInLimited
		}
		var person int64
		err := tx.QueryRow(ctx, sqlSignInPerson, s.keys.AddressHash(addr)).Scan(&person)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sign-in person: %w", err)
		}
		limited, err := rateLimited(ctx, tx, person, "", mailkind.SignIn, SignInsPerHour, "1 hour")
		if err != nil || limited {
			return err
		}
		return s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: person, kind: mailkind.SignIn}})
	})
}

// SignInLinkValid reports whether tok is a sign-in link's token that has
// the right signature (it may still have expired or been used).
func (s *Store) SignInLinkValid(tok string) bool {
	_, err := s.keys.Tokens.Verify(tok, token.SignIn)
	return err == nil
}

// SignIn opens a session with sign-in link tok. It returns the session's
// value for the browser's cookie, or ErrSignInLink.
func (s *Store) SignIn(ctx context.Context, tok string) (session string, m Member, err error) {
	t, err := s.keys.Tokens.Verify(tok, token.SignIn)
	if err != nil {
		return "", m, fmt.Errorf("%w (%v)", ErrSignInLink, err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
	session = base64.RawURLEncoding.EncodeToString(raw[:])
	hash := sha256.Sum256([]byte(session))
	err = s.pool.QueryRow(ctx, sqlOpenSession, hash[:], t.Subject, t.Person, t.Epoch,
		SignInTTL.Seconds(), SessionTTL.Seconds()).Scan(&m.ID, &m.DisplayName)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", m, fmt.Errorf("%w (expired, used or revoked)", ErrSignInLink)
	}
	if err != nil {
		return "", m, fmt.Errorf("open session: %w", err)
	}
	return session, m, nil
}

// SessionMember returns the member signed in by session, or ErrNotFound
// when it is unknown, expired or revoked.
func (s *Store) SessionMember(ctx context.Context, session string) (Member, error) {
	var m Member
	hash := sha256.Sum256([]byte(session))
	err := s.pool.QueryRow(ctx, sqlSessionMember, hash[:]).Scan(&m.ID, &m.DisplayName)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("load session: %w", err)
	}
	return m, nil
}

// SignOut ends session (nothing when it is unknown).
func (s *Store) SignOut(ctx context.Context, session string) error {
	hash := sha256.Sum256([]byte(session))
	if _, err := s.pool.Exec(ctx, sqlSignOut, hash[:]); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// SignOutEverywhere ends every session of m by moving their token epoch
// on, which also revokes every link and reply address in the mail they
// were sent before (later mail carries new ones).
func (s *Store) SignOutEverywhere(ctx context.Context, m Member) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlBumpEpoch, m.ID); err != nil {
			return fmt.Errorf("sign out everywhere: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlEndSessionsOfPerson, m.ID); err != nil {
			return fmt.Errorf("sign out everywhere: %w", err)
		}
		return nil
	})
}

// Settings are a member's notification settings, as the email commands
// set them (CmdNotify, CmdConfirmations).
type Settings struct {
	MyQuestions, MyAnswers, AfterMyComments, CommandConfirmations bool
}

// MemberSettings returns m's settings.
func (s *Store) MemberSettings(ctx context.Context, m Member) (Settings, error) {
	var st Settings
	err := s.pool.QueryRow(ctx, sqlLoadSettings, m.ID).Scan(&st.MyQuestions, &st.MyAnswers, &st.AfterMyComments, &st.CommandConfirmations)
	if err != nil {
		return st, fmt.Errorf("load settings: %w", err)
	}
	return st, nil
}

// SaveSettings stores m's settings.
func (s *Store) SaveSettings(ctx context.Context, m Member, st Settings) error {
	_, err := s.pool.Exec(ctx, sqlSaveSettings, m.ID, st.MyQuestions, st.MyAnswers, st.AfterMyComments, st.CommandConfirmations)
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	return nil
}

// MemberTx runs fn in one transaction as member m: the forum's actions
// (Vote, SelectAnswer, Edit) with the rules and points they have by
// email. The Tx has no inbound message: its mail answers nothing.
func (s *Store) MemberTx(ctx context.Context, m Member, fn func(*Tx, Person) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(&Tx{s: s, tx: tx}, m.person())
	})
}

// PurgeWeb deletes expired sessions and sign-in requests older than a
// day (their limit counts an hour).
func (s *Store) PurgeWeb(ctx context.Context) (int, error) {
	a, err := s.pool.Exec(ctx, sqlPurgeSessions)
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	b, err := s.pool.Exec(ctx, sqlPurgeSignInRequests)
	if err != nil {
		return 0, fmt.Errorf("purge sign-in requests: %w", err)
	}
	return int(a.RowsAffected() + b.RowsAffected()), nil
}

// The queries of sign-in and sessions.
const (
	// sqlRecordSignInRequest records a request of client ($1) and counts
	// its requests in the last hour, this one included.
	sqlRecordSignInRequest = `WITH ins AS (INSERT INTO web_signin_requests (client) VALUES ($1))
		SELECT count(*) + 1 FROM web_signin_requests WHERE client = $1 AND created_at > now() - interval '1 hour'`

	// sqlSignInPerson finds the member with an address hash who may be
	// mailed a sign-in link.
	sqlSignInPerson = `SELECT id FROM people WHERE address_hash = $1
		AND confirmed_at IS NOT NULL AND suppressed_at IS NULL AND unsubscribed_at IS NULL`

	// sqlOpenSession opens session $1 with the sign-in link of
	// notification $2 minted for person $3 under epoch $4, if the link is
	// younger than $5 seconds and opened no session yet; the session
	// lasts $6 seconds. No row: the link is not (or no longer) valid.
	sqlOpenSession = `WITH s AS (
		INSERT INTO web_sessions (id_hash, person_id, epoch, signin_notification, expires_at)
		SELECT $1, p.id, p.token_epoch, n.id, now() + make_interval(secs => $6)
		FROM notifications n JOIN people p ON p.id = n.person_id
		WHERE n.id = $2 AND n.kind = 'signin' AND n.person_id = $3 AND p.token_epoch = $4
		  AND p.address_hash IS NOT NULL AND n.created_at > now() - make_interval(secs => $5)
		ON CONFLICT (signin_notification) DO NOTHING
		RETURNING person_id)
		SELECT p.id, p.display_name FROM s JOIN people p ON p.id = s.person_id`

	// sqlSessionMember finds the member of a live session.
	sqlSessionMember = `SELECT p.id, p.display_name FROM web_sessions s JOIN people p ON p.id = s.person_id
		WHERE s.id_hash = $1 AND s.expires_at > now() AND s.epoch = p.token_epoch AND p.address_hash IS NOT NULL`

	sqlSignOut             = `DELETE FROM web_sessions WHERE id_hash = $1`
	sqlBumpEpoch           = `UPDATE people SET token_epoch = token_epoch + 1 WHERE id = $1`
	sqlEndSessionsOfPerson = `DELETE FROM web_sessions WHERE person_id = $1`
	sqlLoadSettings        = `SELECT notify_my_questions, notify_my_answers, notify_after_my_comments, command_confirmations
		FROM people WHERE id = $1`
	sqlSaveSettings = `UPDATE people SET notify_my_questions = $2, notify_my_answers = $3, notify_after_my_comments = $4,
		command_confirmations = $5 WHERE id = $1`
	sqlPurgeSessions       = `DELETE FROM web_sessions WHERE expires_at < now()`
	sqlPurgeSignInRequests = `DELETE FROM web_signin_requests WHERE created_at < now() - interval '1 day'`
)

// WebPost is a shown post as its edit form needs it.
type WebPost struct {
	ID, QuestionID, AuthorID int64
	Body, Title              string // the post's text, its question's title
}

// WebPost returns shown post id (its question shown too), or ErrNotFound.
func (s *Store) WebPost(ctx context.Context, id int64) (WebPost, error) {
	var p WebPost
	err := s.pool.QueryRow(ctx, sqlWebPost, id).Scan(&p.ID, &p.QuestionID, &p.AuthorID, &p.Body, &p.Title)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("load post %d: %w", id, err)
	}
	return p, nil
}

const sqlWebPost = `SELECT p.id, q.id, p.author_id, p.body, q.title FROM posts p JOIN posts q ON q.id = coalesce(p.question_id, p.id)
	WHERE p.id = $1 AND p.state IN ('visible', 'closed') AND q.state IN ('visible', 'closed')`

// MemberAddress returns m's address, for the message a form they post
// becomes (AcceptAsMember). It is never shown or logged.
func (s *Store) MemberAddress(ctx context.Context, m Member) (string, error) {
	var keyID int
	var sealed, hash []byte
	err := s.pool.QueryRow(ctx, sqlMemberAddress, m.ID).Scan(&keyID, &sealed, &hash)
	if err != nil {
		return "", fmt.Errorf("load member address: %w", err)
	}
	if sealed == nil {
		return "", fmt.Errorf("member %d has no address", m.ID)
	}
	addr, err := s.keys.Open(keyID, sealed, hash)
	if err != nil {
		return "", fmt.Errorf("open member address: %w", err)
	}
	return addr, nil
}

// AcceptAsMember stores raw, a form signed-in member m posted, through
// the intake port (AcceptTx) with the session recorded as its evidence
// (web_member_posts), in one transaction.
func (s *Store) AcceptAsMember(ctx context.Context, m Member, env Envelope, raw []byte) (Accepted, error) {
	var acc Accepted
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if acc, err = s.AcceptTx(ctx, tx, env, raw); err != nil || acc.Duplicate {
			return err
		}
		if _, err := tx.Exec(ctx, sqlRecordMemberPost, acc.InboundID, m.ID); err != nil {
			return fmt.Errorf("record member post: %w", err)
		}
		return nil
	})
	return acc, err
}

const (
	sqlMemberAddress    = `SELECT key_id, address_enc, address_hash FROM people WHERE id = $1`
	sqlRecordMemberPost = `INSERT INTO web_member_posts (inbound_id, person_id) VALUES ($1, $2)`
)
