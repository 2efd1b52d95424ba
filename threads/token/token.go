// Package token encodes and verifies Postern's signed address tokens: the
// TOKEN in reply+TOKEN@DOMAIN, bounce+TOKEN@DOMAIN and unsubscribe links.
//
// A token is lower-case base32 (RFC 4648 alphabet, no padding) of
//
//	purpose (1 byte) | subject (uvarint) | person (uvarint) | epoch (uvarint) | mac (10 bytes)
//
// where mac is the first 10 bytes of HMAC-SHA256(key, everything before it).
// Lower-case base32 survives mail clients and servers that fold the case of
// local parts; a token for realistic ids is 26–35 characters, so
// "reply+" plus the token stays well under the 64-character local-part
// limit of RFC 5321 §4.5.3.1.1. Verification is constant-time in the MAC.
// A person's tokens are revoked together by bumping their epoch.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Purpose says what a token authorises; a token minted for one purpose is
// never accepted for another.
type Purpose byte

// Token purposes.
const (
	Reply       Purpose = 1 // subject = post id: post a reply to it as person
	Bounce      Purpose = 2 // subject = notification id: a DSN about that notification
	Unsubscribe Purpose = 3 // subject = question id (0 = everything)
	Confirm     Purpose = 4 // subject = 0: confirm the person's address and publish their held posts
	ConfirmSub  Purpose = 5 // subject = subscription id: activate a follow (double opt-in)
	// UnsubscribeFollow is the List-Unsubscribe of a new-question mail to a
	// follower: subject = the question id; it ends the follows (of the
	// forum, of the question's category) that sent the person that mail.
	UnsubscribeFollow Purpose = 6
	// SignIn is a web sign-in link: subject = the notification that
	// carried it (the link works once, for a limited time).
	SignIn Purpose = 7
)

// MACLen is the number of HMAC bytes kept in a token.
const MACLen = 10

// MaxLen is the longest token Verify accepts; longer input is rejected
// before any decoding work.
const MaxLen = 56

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors returned by Verify. They describe the token, never an address.
var (
	ErrMalformed = errors.New("token is malformed")
	ErrBadMAC    = errors.New("token signature does not match")
	ErrPurpose   = errors.New("token is for another purpose")
)

// Token is the decoded content of a verified token.
type Token struct {
	Purpose Purpose
	Subject int64 // post, notification, question or subscription id, per Purpose
	Person  int64 // the person the token was minted for
	Epoch   int64 // the person's token epoch when minted
}

// Signer mints and verifies tokens with one secret key. It is safe for
// concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for key, which must be at least 16 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("token key is %d bytes, need at least 16", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)[:MACLen]
}

// Encode returns the lower-case token for t.
func (s *Signer) Encode(t Token) string {
	buf := make([]byte, 0, 1+3*binary.MaxVarintLen64+MACLen)
	buf = append(buf, byte(t.Purpose))
	buf = binary.AppendUvarint(buf, uint64(t.Subject))
	buf = binary.AppendUvarint(buf, uint64(t.Person))
	buf = binary.AppendUvarint(buf, uint64(t.Epoch))
	buf = append(buf, s.mac(buf)...)
	return strings.ToLower(enc.EncodeToString(buf))
}

// Verify decodes str (any letter case) and checks its signature and
// purpose. The epoch is returned for the caller to compare with the
// person's current epoch.
func (s *Signer) Verify(str string, want Purpose) (Token, error) {
	if len(str) == 0 || len(str) > MaxLen {
		return Token{}, ErrMalformed
	}
	raw, err := enc.DecodeString(strings.ToUpper(str))
	if err != nil || len(raw) < 1+3+MACLen {
		return Token{}, ErrMalformed
	}
	payload, mac := raw[:len(raw)-MACLen], raw[len(raw)-MACLen:]
	if !hmac.Equal(mac, s.mac(payload)) {
		return Token{}, ErrBadMAC
	}
	t := Token{Purpose: Purpose(payload[0])}
	rest := payload[1:]
	vals := [3]int64{}
	for i := range vals {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > 1<<62 {
			return Token{}, ErrMalformed
		}
		vals[i] = int64(v)
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return Token{}, ErrMalformed
	}
	t.Subject, t.Person, t.Epoch = vals[0], vals[1], vals[2]
	if t.Purpose != want {
		return Token{}, ErrPurpose
	}
	return t, nil
}
