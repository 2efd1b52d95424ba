package threads

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

// This file exports the store's pieces that the archive importer
// (package threads/importer) writes posts with, so that imported posts are
// stored exactly as live ones: the same forum Message-IDs, sealing and
// redaction. Each is a thin wrapper over what live mail uses.

// Logger returns the store's logger (never nil).
func (s *Store) Logger() *slog.Logger { return s.log }

// ForumMessageID returns a new forum Message-ID (without angle brackets)
// for post id of kind: kind letter, post id, a random tag and the forum's
// domain; it never contains an address. Each call returns another tag.
func (s *Store) ForumMessageID(kind PostKind, id int64) string { return s.forumMessageID(kind, id) }

// SealClientMessageID returns the posts.client_msgid value of a post whose
// forum Message-ID is forumID and that was made from a message whose own
// Message-ID is clientID: one byte naming the current key, then clientID
// sealed (Keys.SealBytes) with forumID as associated data, so that the
// value opens only for its post's row.
func (s *Store) SealClientMessageID(clientID, forumID string) ([]byte, error) {
	keyID, sealed, err := s.keys.SealBytes([]byte(clientID), []byte(forumID))
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(keyID)}, sealed...), nil
}

// AddressCandidates returns the distinct normalised address-like strings
// in texts with their address hashes (Keys.AddressHash), in order of first
// appearance: what redaction looks up. The texts are not changed.
func (s *Store) AddressCandidates(texts ...*string) (cands []string, hashes [][]byte) {
	return s.addressCandidates(texts...)
}

// RedactAddresses replaces, in each text, every address whose normalised
// form (NormalizeAddress) is in known with "[address removed]", as
// redaction of live mail does; other addresses are left alone.
func RedactAddresses(known map[string]bool, texts ...*string) { redactAddresses(known, texts...) }

// RedactKnown replaces, in each text, author's own address and the address
// of every person stored (looked up in tx by address hash) with
// "[address removed]", as for live mail. author may be "".
func (s *Store) RedactKnown(ctx context.Context, tx pgx.Tx, author string, texts ...*string) error {
	return s.redactKnown(ctx, tx, author, texts...)
}

// CleanDisplayName returns a From display name made safe to show, as live
// mail's: control characters and surrounding quotes dropped, at most 80
// characters, and "" when it looks like it holds an address.
func CleanDisplayName(name string) string { return cleanDisplayName(name) }

// AppendNotes returns body with notes (such as the dropped-attachment
// notes of SelectAttachments) added one per line after a blank line.
func AppendNotes(body string, notes []string) string { return appendNotes(body, notes) }
