package threads

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/postern/postern/threads/token"
)

// Keys holds the keys derived from the server secret: the token signer, the
// address-hash key and the address-sealing keys. Sealing keys carry an id
// stored on each row so keys can rotate: Seal uses the current key, Open
// any known one. Keys is immutable and safe for concurrent use.
type Keys struct {
	Tokens  *token.Signer
	hashKey []byte
	formKey []byte
	aeads   map[int]cipher.AEAD
	current int
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("postern/" + label))
	return m.Sum(nil)
}

// DeriveKeys derives every key from secret (at least 32 bytes). Key id 1 is
// derived from the secret itself; extra holds older or newer raw 32-byte
// sealing keys by id for rotation, and current selects the id Seal uses
// (0 means 1).
func DeriveKeys(secret []byte, extra map[int][]byte, current int) (*Keys, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("secret is %d bytes, need at least 32", len(secret))
	}
	signer, err := token.NewSigner(derive(secret, "token/v1"))
	if err != nil {
		return nil, fmt.Errorf("token signer: %w", err)
	}
	k := &Keys{Tokens: signer, hashKey: derive(secret, "address-hash/v1"), formKey: derive(secret, "web-form/v1"), aeads: map[int]cipher.AEAD{}, current: current}
	if k.current == 0 {
		k.current = 1
	}
	raw := map[int][]byte{1: derive(secret, "address-seal/1")}
	for id, key := range extra {
		raw[id] = key
	}
	for id, key := range raw {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("sealing key %d: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sealing key %d: %w", id, err)
		}
		k.aeads[id] = aead
	}
	if k.aeads[k.current] == nil {
		return nil, fmt.Errorf("current sealing key id %d is not configured", k.current)
	}
	return k, nil
}

// NormalizeAddress returns the canonical form of an address used for
// hashing and comparison: trimmed, without angle brackets, lower-cased.
// (Local parts are case-sensitive in theory, case-insensitive at every
// provider that matters; treating them so keeps one person one row.)
func NormalizeAddress(addr string) string {
	a := strings.TrimSpace(addr)
	a = strings.TrimPrefix(a, "<")
	a = strings.TrimSuffix(a, ">")
	return strings.ToLower(a)
}

// AddressHash is the keyed hash (HMAC-SHA256) of the normalised address: the
// only form in which an address is looked up.
func (k *Keys) AddressHash(addr string) []byte {
	m := hmac.New(sha256.New, k.hashKey)
	m.Write([]byte(NormalizeAddress(addr)))
	return m.Sum(nil)
}

// Seal encrypts addr with the current key and returns the key id and
// nonce||ciphertext. The address's hash is the associated data, so a sealed
// value cannot be moved to another person's row.
func (k *Keys) Seal(addr string) (int, []byte, error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(addr)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return 0, nil, fmt.Errorf("nonce: %w", err)
	}
	norm := NormalizeAddress(addr)
	return k.current, aead.Seal(nonce, nonce, []byte(norm), k.AddressHash(norm)), nil
}

// SealBytes encrypts b with the current key, binding it to ad (associated
// data the caller must present again to OpenBytes). It is used for raw
// inbound messages and envelope senders, which contain addresses.
func (k *Keys) SealBytes(b, ad []byte) (int, []byte, error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(b)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return 0, nil, fmt.Errorf("nonce: %w", err)
	}
	return k.current, aead.Seal(nonce, nonce, b, ad), nil
}

// SealOverhead is how many bytes SealInPlace adds: nonce and tag.
func (k *Keys) SealOverhead() int {
	a := k.aeads[k.current]
	return a.NonceSize() + a.Overhead()
}

// SealInPlace encrypts buf[start+nonce:] in place, where nonce is the
// current key's nonce size, writing the nonce at buf[start:] and the tag
// into buf's spare capacity (at least the tag size). It returns the key id
// and the sealed value (nonce||ciphertext), which aliases buf. Like
// SealBytes, without copying a message of many megabytes.
func (k *Keys) SealInPlace(buf []byte, start int, ad []byte) (int, []byte, error) {
	aead := k.aeads[k.current]
	ns := aead.NonceSize()
	if start < 0 || start+ns > len(buf) || cap(buf)-len(buf) < aead.Overhead() {
		return 0, nil, errors.New("seal in place: buffer lacks room for nonce or tag")
	}
	nonce := buf[start : start+ns]
	if _, err := rand.Read(nonce); err != nil {
		return 0, nil, fmt.Errorf("nonce: %w", err)
	}
	pt := buf[start+ns:]
	ct := aead.Seal(pt[:0], nonce, pt, ad)
	return k.current, buf[start : start+ns+len(ct)], nil
}

// OpenBytes decrypts a value sealed by SealBytes with the same ad.
func (k *Keys) OpenBytes(keyID int, sealed, ad []byte) ([]byte, error) {
	aead := k.aeads[keyID]
	if aead == nil {
		return nil, fmt.Errorf("open key %d: %w", keyID, ErrNoKey)
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed value too short")
	}
	// Decrypt in place: sealed is the caller's, freshly read, buffer.
	ct := sealed[aead.NonceSize():]
	pt, err := aead.Open(ct[:0], sealed[:aead.NonceSize()], ct, ad)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	return pt, nil
}

// MessageIDHash is the keyed hash under which a client's Message-ID is
// indexed: lookups need only equality, and client Message-IDs can contain
// their author's host or address, so they are not stored in clear.
func (k *Keys) MessageIDHash(id string) string {
	m := hmac.New(sha256.New, k.hashKey)
	m.Write([]byte("message-id\x00" + id))
	return "h:" + hex.EncodeToString(m.Sum(nil)[:20])
}

// FormMAC is the keyed hash (HMAC-SHA256) that signs the web forms'
// anti-forgery tokens: the parts are hashed length-prefixed, so no two
// lists of parts hash alike.
func (k *Keys) FormMAC(parts ...string) []byte {
	m := hmac.New(sha256.New, k.formKey)
	for _, p := range parts {
		fmt.Fprintf(m, "%d:%s", len(p), p)
	}
	return m.Sum(nil)
}

// ErrNoKey is returned by Open for a key id that is not configured.
var ErrNoKey = errors.New("sealing key id not configured")

// Open decrypts a value produced by Seal; hash is the row's address hash.
func (k *Keys) Open(keyID int, sealed, hash []byte) (string, error) {
	aead := k.aeads[keyID]
	if aead == nil {
		return "", fmt.Errorf("open key %d: %w", keyID, ErrNoKey)
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed address too short")
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], hash)
	if err != nil {
		return "", fmt.Errorf("open sealed address: %w", err)
	}
	return string(pt), nil
}

// openAppend appends the value sealed (by SealBytes or SealInPlace, with
// key keyID and associated data ad) to dst, opens it there in place and
// returns dst extended by its plaintext only: a message's chunks are
// opened one after the other into one buffer, with no copy of their own.
func (k *Keys) openAppend(dst []byte, keyID int, sealed, ad []byte) ([]byte, error) {
	aead := k.aeads[keyID]
	if aead == nil {
		return dst, fmt.Errorf("open key %d: %w", keyID, ErrNoKey)
	}
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return dst, errors.New("sealed value too short")
	}
	pos := len(dst)
	dst = append(dst, sealed...)
	ct := dst[pos+ns:]
	pt, err := aead.Open(ct[:0], dst[pos:pos+ns], ct, ad)
	if err != nil {
		return dst[:pos], fmt.Errorf("open sealed value: %w", err)
	}
	copy(dst[pos:], pt)
	return dst[:pos+len(pt)], nil
}
