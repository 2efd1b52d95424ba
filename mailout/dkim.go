package mailout

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMConfig names the key and the DNS location of its public half.
type DKIMConfig struct {
	// Domain is the signing domain (the d= tag), normally the domain of
	// the From address so that DMARC sees the signature as aligned.
	Domain string
	// Selector is the s= tag: the public key is published as a TXT record
	// at Selector._domainkey.Domain.
	Selector string
	// KeyFile is the path of a PEM private key: an RSA key in PKCS#1
	// ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") form, or an Ed25519
	// key in PKCS#8 form. Encrypted keys are not supported.
	KeyFile string
}

// dkimSignedFields are the header fields covered by every signature, in
// h= order. A field named here that a message lacks is still listed,
// which asserts its absence: a relay cannot add, for example, a Reply-To
// without breaking the signature. RFC 8058 section 3.1 requires
// List-Unsubscribe and List-Unsubscribe-Post to be signed.
var dkimSignedFields = []string{
	"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To",
	"References", "Reply-To", "List-Id", "List-Unsubscribe",
	"List-Unsubscribe-Post", "Auto-Submitted", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding",
}

// dkimOversignedFields are listed in h= once more than they occur, so that
// a second instance added in transit (a second From, or a substitute
// unsubscribe target) invalidates the signature.
var dkimOversignedFields = []string{"From", "List-Unsubscribe", "List-Unsubscribe-Post"}

// DKIMSigner adds a DKIM-Signature (RFC 6376) to outgoing messages. It is
// safe for concurrent use. Construct it with NewDKIMSigner.
type DKIMSigner struct {
	opts   dkim.SignOptions
	dnsTXT string
}

// NewDKIMSigner loads and checks the key named by cfg, so that a bad
// configuration fails at start-up rather than on the first message. The
// domain and selector must be valid DNS names; the key must be RSA of
// 1024 to 4096 bits (2048 recommended) or Ed25519. Errors name the key
// file and say what is wrong with it; they never contain key material.
func NewDKIMSigner(cfg DKIMConfig) (*DKIMSigner, error) {
	domain := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.Domain)), ".")
	if domain == "" {
		return nil, errors.New("dkim: domain is required")
	}
	if !validDNSName(domain) || !strings.Contains(domain, ".") {
		return nil, fmt.Errorf("dkim: domain %q is not a valid DNS name", cfg.Domain)
	}
	selector := strings.ToLower(strings.TrimSpace(cfg.Selector))
	if selector == "" {
		return nil, errors.New("dkim: selector is required")
	}
	if !validDNSName(selector) {
		return nil, fmt.Errorf("dkim: selector %q is not a valid DNS name", cfg.Selector)
	}
	if cfg.KeyFile == "" {
		return nil, errors.New("dkim: key file is required")
	}
	key, err := loadDKIMKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	kind, pub, err := dkimPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("dkim: key file %s: %w", cfg.KeyFile, err)
	}
	headerKeys := append(append([]string(nil), dkimSignedFields...), dkimOversignedFields...)
	s := &DKIMSigner{
		opts: dkim.SignOptions{
			Domain:                 domain,
			Selector:               selector,
			Signer:                 key,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             headerKeys,
		},
		dnsTXT: formatDKIMTXT(kind, pub),
	}
	// Sign once now: a key the signing code cannot use shows up here.
	probe := "From: probe@" + domain + "\r\nSubject: probe\r\n\r\nprobe\r\n"
	if _, err := s.Sign([]byte(probe)); err != nil {
		return nil, fmt.Errorf("dkim: key file %s cannot sign: %w", cfg.KeyFile, err)
	}
	return s, nil
}

// Sign returns msg with a DKIM-Signature header field prepended, using
// relaxed/relaxed canonicalization and SHA-256. msg must be a complete
// message (header, blank line, body), as built by Compose; bare LF line
// ends are turned into CRLF first, and the returned bytes are the message
// as signed, so send them unchanged. msg itself is not modified.
//
// The signature covers From, To, Subject, Date, Message-ID, In-Reply-To,
// References, Reply-To, List-Id, List-Unsubscribe, List-Unsubscribe-Post,
// Auto-Submitted, MIME-Version, Content-Type and
// Content-Transfer-Encoding, and oversigns From and the two
// List-Unsubscribe fields.
func (s *DKIMSigner) Sign(msg []byte) ([]byte, error) {
	if s == nil {
		return nil, errors.New("dkim: nil signer")
	}
	if len(msg) == 0 {
		return nil, errors.New("dkim: empty message")
	}
	in := toCRLFBytes(msg)
	opts := s.opts // dkim.Sign gets its own copy; HeaderKeys is only read.
	var out bytes.Buffer
	out.Grow(len(in) + 1024)
	if err := dkim.Sign(&out, bytes.NewReader(in), &opts); err != nil {
		return nil, fmt.Errorf("dkim: sign: %w", err)
	}
	return out.Bytes(), nil
}

// DNSName returns the name at which the public key must be published:
// SELECTOR._domainkey.DOMAIN.
func (s *DKIMSigner) DNSName() string {
	return s.opts.Selector + "._domainkey." + s.opts.Domain
}

// DNSTXT returns the TXT record value for the loaded key, in the format
// described at GenerateDKIMKey. Operators can compare it with what DNS
// returns for DNSName.
func (s *DKIMSigner) DNSTXT() string { return s.dnsTXT }

// GenerateDKIMKey makes a new signing key. kind is "rsa" (2048 bits, the
// kind every receiver verifies) or "ed25519" (RFC 8463; many receivers do
// not verify it yet, so use it only in addition to an RSA signature).
//
// pemKey is the private key as a PKCS#8 PEM block ("PRIVATE KEY"), ready
// to be written to the file named by DKIMConfig.KeyFile (keep it mode
// 0600). dnsTXT is the value to publish as a TXT record at
// SELECTOR._domainkey.DOMAIN, e.g. "v=DKIM1; k=rsa; p=MIIB...". Because
// one DNS character-string holds at most 255 bytes, dnsTXT is given as
// one or more double-quoted strings separated by spaces:
//
//	"v=DKIM1; k=rsa; p=MIIBIjANBgkq..." "...IDAQAB"
//
// Resolvers join the strings of one record without any separator, so
// the published key is their concatenation. In a zone file, write
//
//	SELECTOR._domainkey IN TXT "v=DKIM1; k=rsa; p=MIIB..." "...IDAQAB"
//
// exactly as returned. DNS providers' web forms differ: most accept the
// quoted form as it is; those that take a single unquoted value split it
// themselves. Publish exactly one TXT record at that name, then check it
// with `dig +short TXT SELECTOR._domainkey.DOMAIN`.
func GenerateDKIMKey(kind string) (pemKey []byte, dnsTXT string, err error) {
	var key crypto.Signer
	switch strings.ToLower(kind) {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, "", fmt.Errorf("dkim: generate RSA key: %w", err)
		}
		key = k
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, "", fmt.Errorf("dkim: generate Ed25519 key: %w", err)
		}
		key = k
	default:
		return nil, "", fmt.Errorf("dkim: unknown key kind %q (want \"rsa\" or \"ed25519\")", kind)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("dkim: encode private key: %w", err)
	}
	k, pub, err := dkimPublicKey(key)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), formatDKIMTXT(k, pub), nil
}

// loadDKIMKey reads and parses a PEM private key file.
func loadDKIMKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim: read key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("dkim: key file %s holds no PEM block", path)
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("dkim: key file %s is encrypted; store it unencrypted (e.g. openssl pkey -in OLD -out NEW) and protect it with file permissions", path)
	}
	var parsed any
	switch block.Type {
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return nil, fmt.Errorf("dkim: key file %s holds an EC key; DKIM needs an RSA or Ed25519 key", path)
	case "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("dkim: key file %s is in OpenSSH format; convert it to PKCS#8 PEM", path)
	default:
		return nil, fmt.Errorf("dkim: key file %s holds a %q PEM block, want \"PRIVATE KEY\" or \"RSA PRIVATE KEY\"", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: key file %s: parse %s: %w", path, block.Type, err)
	}
	switch k := parsed.(type) {
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		if bits < 1024 {
			return nil, fmt.Errorf("dkim: key file %s holds a %d-bit RSA key; receivers ignore signatures from keys under 1024 bits (RFC 8301), use 2048", path, bits)
		}
		if bits > 4096 {
			return nil, fmt.Errorf("dkim: key file %s holds a %d-bit RSA key; receivers need only verify up to 4096 bits (RFC 8301), use 2048", path, bits)
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("dkim: key file %s: invalid RSA key: %w", path, err)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return nil, fmt.Errorf("dkim: key file %s holds an ECDSA key; DKIM needs an RSA or Ed25519 key", path)
	default:
		return nil, fmt.Errorf("dkim: key file %s holds an unsupported key type %T", path, parsed)
	}
}

// dkimPublicKey returns the k= tag and the p= bytes for key: the
// SubjectPublicKeyInfo DER for RSA, the raw 32 bytes for Ed25519 (RFC
// 8463 section 4.2).
func dkimPublicKey(key crypto.Signer) (kind string, pub []byte, err error) {
	switch p := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(p)
		if err != nil {
			return "", nil, fmt.Errorf("dkim: encode public key: %w", err)
		}
		return "rsa", der, nil
	case ed25519.PublicKey:
		return "ed25519", []byte(p), nil
	default:
		return "", nil, fmt.Errorf("dkim: unsupported public key type %T", p)
	}
}

// maxTXTString is the longest DNS character-string (RFC 1035 section 3.3).
const maxTXTString = 255

// formatDKIMTXT builds the key record and splits it into quoted strings
// of at most maxTXTString bytes. The record holds only base64, letters,
// '=', ';' and spaces, so no quoting inside the strings is needed.
func formatDKIMTXT(kind string, pub []byte) string {
	v := "v=DKIM1; k=" + kind + "; p=" + base64.StdEncoding.EncodeToString(pub)
	var parts []string
	for len(v) > maxTXTString {
		parts = append(parts, `"`+v[:maxTXTString]+`"`)
		v = v[maxTXTString:]
	}
	parts = append(parts, `"`+v+`"`)
	return strings.Join(parts, " ")
}

// validDNSName reports whether s is a dot-separated list of LDH labels of
// 1 to 63 bytes (not starting or ending in '-'), at most 253 bytes long.
// Underscores are allowed, as some selectors use them.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// toCRLFBytes returns b with every bare LF turned into CRLF; b itself when
// it has none.
func toCRLFBytes(b []byte) []byte {
	bare := 0
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			bare++
		}
	}
	if bare == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+bare)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// SigningSender is a Sender that DKIM-signs each message and hands the
// signed bytes to the next Sender. Build it with WithDKIM; the zero value
// refuses to send.
type SigningSender struct {
	next   Sender
	signer *DKIMSigner
}

// WithDKIM returns a Sender that signs every message with s and then
// passes it to next.Send. A nil s returns next unchanged (signing
// disabled, e.g. when the relay signs).
func WithDKIM(next Sender, s *DKIMSigner) Sender {
	if s == nil {
		return next
	}
	return &SigningSender{next: next, signer: s}
}

// Send signs msg and delivers it through the wrapped Sender. It is safe
// for concurrent use when the wrapped Sender is. A signing failure is
// returned as a temporary error (never IsPermanent) that contains no
// address; errors from the wrapped Sender are returned unchanged, so
// IsPermanent still works on them.
func (w *SigningSender) Send(ctx context.Context, envelopeFrom, rcpt string, msg []byte) error {
	if w == nil || w.next == nil || w.signer == nil {
		return errors.New("mailout: signing sender not set up (use WithDKIM)")
	}
	signed, err := w.signer.Sign(msg)
	if err != nil {
		return fmt.Errorf("mailout: %w", err)
	}
	return w.next.Send(ctx, envelopeFrom, rcpt, signed)
}
