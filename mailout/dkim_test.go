package mailout

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
)

const (
	dkimTestDomain   = "forum.example.org"
	dkimTestSelector = "pst2025"
)

// dkimTestMessage composes a realistic notification with every field the
// signer covers.
func dkimTestMessage(t *testing.T) []byte {
	t.Helper()
	msg, err := Compose(&Outgoing{
		To:                mail.Address{Name: "Bøb Recipient", Address: "bob@recipient.example"},
		FromName:          "Ännä via Gärdeners",
		FromAddr:          "notifications@" + dkimTestDomain,
		ReplyTo:           "reply+TOKEN123@" + dkimTestDomain,
		MessageID:         "answer.7.xyz@" + dkimTestDomain,
		InReplyTo:         "question.3.abc@" + dkimTestDomain,
		References:        []string{"question.3.abc@" + dkimTestDomain},
		Subject:           "Re: Why do my tomatoes split?",
		Text:              "Water them evenly.\n\n-- \nGärdeners\n",
		HTML:              "<p>Water them evenly.</p>",
		ListID:            "Gärdeners <gardeners." + dkimTestDomain + ">",
		UnsubscribeURL:    "https://" + dkimTestDomain + "/u/TOKEN",
		UnsubscribeMailto: "unsubscribe+TOKEN@" + dkimTestDomain,
		Date:              time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	})
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	return msg
}

// newTestSigner generates a key of the given kind, writes it to a file and
// loads it, returning the signer and the TXT record to publish.
func newTestSigner(t *testing.T, kind string) (*DKIMSigner, string) {
	t.Helper()
	pemKey, txt, err := GenerateDKIMKey(kind)
	if err != nil {
		t.Fatalf("GenerateDKIMKey(%s): %v", kind, err)
	}
	path := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewDKIMSigner(DKIMConfig{Domain: dkimTestDomain, Selector: dkimTestSelector, KeyFile: path})
	if err != nil {
		t.Fatalf("NewDKIMSigner(%s): %v", kind, err)
	}
	if s.DNSTXT() != txt {
		t.Errorf("DNSTXT() differs from the generated record")
	}
	return s, txt
}

// zoneTXT parses the quoted character-strings of a zone-file TXT value
// and joins them, as a resolver does.
func zoneTXT(t *testing.T, v string) string {
	t.Helper()
	var out strings.Builder
	rest := strings.TrimSpace(v)
	for rest != "" {
		if rest[0] != '"' {
			t.Fatalf("TXT value not made of quoted strings: %q", v)
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			t.Fatalf("unterminated quoted string in %q", v)
		}
		s := rest[1 : 1+end]
		if len(s) > 255 {
			t.Fatalf("character-string of %d bytes, more than 255", len(s))
		}
		out.WriteString(s)
		rest = strings.TrimLeft(rest[end+2:], " ")
	}
	return out.String()
}

// verifyWith runs dkim.VerifyWithOptions with a resolver that knows only
// the test key.
func verifyWith(t *testing.T, txt string, msg []byte) []*dkim.Verification {
	t.Helper()
	record := zoneTXT(t, txt)
	lookup := func(name string) ([]string, error) {
		if name == dkimTestSelector+"._domainkey."+dkimTestDomain {
			return []string{record}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatalf("VerifyWithOptions: %v", err)
	}
	if len(verifs) != 1 {
		t.Fatalf("got %d verifications, want 1", len(verifs))
	}
	return verifs
}

func TestDKIMSignVerify(t *testing.T) {
	for _, kind := range []string{"rsa", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			s, txt := newTestSigner(t, kind)
			if !strings.HasPrefix(zoneTXT(t, txt), "v=DKIM1; k="+kind+"; p=") {
				t.Errorf("TXT record = %q, want v=DKIM1; k=%s; p=...", txt, kind)
			}
			if got, want := s.DNSName(), dkimTestSelector+"._domainkey."+dkimTestDomain; got != want {
				t.Errorf("DNSName() = %q, want %q", got, want)
			}
			msg := dkimTestMessage(t)
			orig := append([]byte(nil), msg...)
			signed, err := s.Sign(msg)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !bytes.Equal(msg, orig) {
				t.Fatal("Sign modified its input")
			}
			if !bytes.HasPrefix(signed, []byte("DKIM-Signature:")) || !bytes.HasSuffix(signed, msg) {
				t.Fatal("signed message is not DKIM-Signature + original message")
			}

			v := verifyWith(t, txt, signed)[0]
			if v.Err != nil {
				t.Fatalf("verification failed: %v", v.Err)
			}
			if v.Domain != dkimTestDomain {
				t.Errorf("d= %q, want %q", v.Domain, dkimTestDomain)
			}
			count := map[string]int{}
			for _, k := range v.HeaderKeys {
				count[strings.ToLower(k)]++
			}
			for _, k := range dkimSignedFields {
				if count[strings.ToLower(k)] == 0 {
					t.Errorf("%s is not signed", k)
				}
			}
			for _, k := range []string{"from", "list-unsubscribe", "list-unsubscribe-post"} {
				if count[k] != 2 {
					t.Errorf("%s listed %d times in h=, want 2 (oversigned)", k, count[k])
				}
			}
			if !bytes.Contains(signed[:bytes.Index(signed, []byte("\r\n\r\n"))], []byte("c=relaxed/relaxed")) {
				t.Error("signature does not use relaxed/relaxed")
			}

			// Tampering with the body, or adding a field that is
			// oversigned, breaks the signature.
			tampered := bytes.Replace(signed, []byte("evenly"), []byte("rarely"), 1)
			if bytes.Equal(tampered, signed) {
				t.Fatal("test message lacks the word to tamper with")
			}
			if v := verifyWith(t, txt, tampered)[0]; v.Err == nil {
				t.Error("tampered body still verifies")
			}
			for _, extra := range []string{
				"From: attacker@evil.example\r\n",
				"List-Unsubscribe: <https://evil.example/u>\r\n",
			} {
				added := append([]byte(extra), signed...)
				if v := verifyWith(t, txt, added)[0]; v.Err == nil {
					t.Errorf("signature still verifies after adding %q", strings.TrimSpace(extra))
				}
			}

			// A signed field the message lacks cannot be added later.
			noReply := regexp.MustCompile(`(?m)^Reply-To: [^\r]*\r\n`).ReplaceAll(msg, nil)
			if bytes.Equal(noReply, msg) {
				t.Fatal("test message has no Reply-To to remove")
			}
			signed, err = s.Sign(noReply)
			if err != nil {
				t.Fatal(err)
			}
			if v := verifyWith(t, txt, signed)[0]; v.Err != nil {
				t.Fatalf("verification failed: %v", v.Err)
			}
			added := append([]byte("Reply-To: attacker@evil.example\r\n"), signed...)
			if v := verifyWith(t, txt, added)[0]; v.Err == nil {
				t.Error("signature still verifies after adding a Reply-To")
			}
		})
	}
}

func TestDKIMSignLF(t *testing.T) {
	s, txt := newTestSigner(t, "ed25519")
	lf := bytes.ReplaceAll(dkimTestMessage(t), []byte("\r\n"), []byte("\n"))
	signed, err := s.Sign(lf)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if bytes.Contains(bytes.ReplaceAll(signed, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("signed message still has bare LF")
	}
	if v := verifyWith(t, txt, signed)[0]; v.Err != nil {
		t.Errorf("verification failed: %v", v.Err)
	}
}

func TestDKIMTXTSplit(t *testing.T) {
	_, txt, err := GenerateDKIMKey("rsa")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(txt, `" "`)
	if len(parts) < 2 {
		t.Errorf("2048-bit RSA record not split into several strings: %q", txt)
	}
	_ = zoneTXT(t, txt) // checks every string is at most 255 bytes
	if _, _, err := GenerateDKIMKey("dsa"); err == nil {
		t.Error("GenerateDKIMKey(dsa) succeeded")
	}
}

func TestNewDKIMSignerPKCS1(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pkcs1.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewDKIMSigner(DKIMConfig{Domain: "Forum.Example.ORG.", Selector: dkimTestSelector, KeyFile: path})
	if err != nil {
		t.Fatalf("NewDKIMSigner: %v", err)
	}
	signed, err := s.Sign(dkimTestMessage(t))
	if err != nil {
		t.Fatal(err)
	}
	if v := verifyWith(t, s.DNSTXT(), signed)[0]; v.Err != nil {
		t.Errorf("verification failed: %v", v.Err)
	}
}

func TestNewDKIMSignerRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	good, _, err := GenerateDKIMKey("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	goodPath := write("good.pem", good)
	cases := []struct {
		name string
		cfg  DKIMConfig
		want string
	}{
		{"missing file", DKIMConfig{Domain: dkimTestDomain, Selector: "s", KeyFile: filepath.Join(dir, "nope.pem")}, "read key file"},
		{"not PEM", DKIMConfig{Domain: dkimTestDomain, Selector: "s", KeyFile: write("junk.pem", []byte("hello"))}, "no PEM block"},
		{"ECDSA", DKIMConfig{Domain: dkimTestDomain, Selector: "s", KeyFile: write("ec.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))}, "ECDSA"},
		{"certificate", DKIMConfig{Domain: dkimTestDomain, Selector: "s", KeyFile: write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}))}, `"CERTIFICATE"`},
		{"corrupt", DKIMConfig{Domain: dkimTestDomain, Selector: "s", KeyFile: write("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}))}, "parse PRIVATE KEY"},
		{"no domain", DKIMConfig{Selector: "s", KeyFile: goodPath}, "domain is required"},
		{"bad domain", DKIMConfig{Domain: "exa mple.org", Selector: "s", KeyFile: goodPath}, "not a valid DNS name"},
		{"no selector", DKIMConfig{Domain: dkimTestDomain, KeyFile: goodPath}, "selector is required"},
		{"bad selector", DKIMConfig{Domain: dkimTestDomain, Selector: "a;b", KeyFile: goodPath}, "not a valid DNS name"},
		{"no key", DKIMConfig{Domain: dkimTestDomain, Selector: "s"}, "key file is required"},
	}
	for _, c := range cases {
		_, err := NewDKIMSigner(c.cfg)
		if err == nil {
			t.Errorf("%s: NewDKIMSigner succeeded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
	}
}

func TestWithDKIM(t *testing.T) {
	s, txt := newTestSigner(t, "rsa")
	dir := t.TempDir()
	md, err := NewMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if WithDKIM(md, nil) != Sender(md) {
		t.Error("WithDKIM with a nil signer should return the next Sender")
	}
	snd := WithDKIM(md, s)
	if err := snd.Send(context.Background(), "bounces@"+dkimTestDomain, "bob@recipient.example", dkimTestMessage(t)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	files, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil || len(files) != 1 {
		t.Fatalf("want one delivered message, got %d (%v)", len(files), err)
	}
	stored, err := os.ReadFile(filepath.Join(dir, "new", files[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	// The Maildir prepends Return-Path, an unsigned field: the signature
	// still verifies.
	if v := verifyWith(t, txt, stored)[0]; v.Err != nil {
		t.Errorf("delivered message does not verify: %v", v.Err)
	}
	var zero SigningSender
	if err := zero.Send(context.Background(), "a@b.example", "c@d.example", []byte("x")); err == nil {
		t.Error("zero SigningSender sent")
	}
	if err := snd.Send(context.Background(), "bounces@"+dkimTestDomain, "bob@recipient.example", nil); err == nil || IsPermanent(err) {
		t.Errorf("empty message: err = %v, want a temporary error", err)
	}
}
