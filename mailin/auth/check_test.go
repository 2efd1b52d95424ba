package auth

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// fakeResolver is dnsZone with the lookups SPF needs (none are used by
// the records below but A; the others answer "not found").
type fakeResolver struct {
	dnsZone
	a map[string][]net.IPAddr
}

func (r *fakeResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return r.lookup(ctx, strings.TrimSuffix(name, "."))
}

func (r *fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if a, ok := r.a[strings.TrimSuffix(strings.ToLower(host), ".")]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (r *fakeResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

// TestCheck: Check verifies DKIM and SPF against a fake DNS and
// evaluates DMARC with both, alignment included.
func TestCheck(t *testing.T) {
	key := newKey(t, "ed25519")
	r := &fakeResolver{dnsZone: dnsZone{txt: map[string][]string{
		"sel._domainkey.example.org": {key.record},
		"example.org":                {"v=spf1 ip4:192.0.2.0/24 -all"},
		"_dmarc.example.org":         {"v=DMARC1; p=reject"},
		"other.example":              {"v=spf1 ip4:198.51.100.7 -all"},
		"_dmarc.strict.example":      {"v=DMARC1; p=reject; aspf=s"},
		"mail.strict.example":        {"v=spf1 ip4:192.0.2.9 -all"},
	}}}
	signed := sign(t, plainMessage, "example.org", "sel", key)
	ctx := context.Background()
	tests := []struct {
		name                  string
		in                    Input
		dkim, spf, dmarc, evi string
	}{
		{"dkim aligned, spf from elsewhere fails", Input{Raw: signed, FromDomain: "example.org", ClientIP: net.ParseIP("203.0.113.5"), MailFrom: "ann@example.org"}, Pass, Fail, Pass, EvidenceDKIM},
		{"spf aligned, no signature", Input{Raw: []byte(plainMessage), FromDomain: "example.org", ClientIP: net.ParseIP("192.0.2.44"), MailFrom: "ann@example.org"}, None, Pass, Pass, EvidenceSPF},
		{"spf pass for another domain", Input{Raw: []byte(plainMessage), FromDomain: "example.org", ClientIP: net.ParseIP("198.51.100.7"), MailFrom: "m@other.example"}, None, Pass, Fail, ""},
		{"spf skipped over lmtp", Input{Raw: []byte(plainMessage), FromDomain: "example.org", MailFrom: "ann@example.org"}, None, None, Fail, ""},
		{"helo only (null sender)", Input{Raw: []byte(plainMessage), FromDomain: "example.org", ClientIP: net.ParseIP("192.0.2.44"), Helo: "example.org"}, None, None, Fail, ""},
		{"strict aspf, subdomain", Input{Raw: []byte(plainMessage), FromDomain: "strict.example", ClientIP: net.ParseIP("192.0.2.9"), MailFrom: "a@mail.strict.example"}, None, Pass, Fail, ""},
	}
	for _, tc := range tests {
		got := Check(ctx, tc.in, r)
		if got.DKIM != tc.dkim || got.SPF != tc.spf || got.DMARC != tc.dmarc || got.Evidence() != tc.evi || got.Source != SourceVerified {
			t.Errorf("%s: %+v (evidence %q); want dkim %s spf %s dmarc %s evidence %q", tc.name, got, got.Evidence(), tc.dkim, tc.spf, tc.dmarc, tc.evi)
		}
	}
}

// TestCheckReplayed: with RcptDomain set (the forum's domain), a valid
// signature over To/Cc that name no address there was made for someone
// else: a replayed message is DKIM "policy", no evidence, no DMARC pass;
// the same message addressed to the forum passes, and a signature that
// does not sign To or Cc cannot be told apart and passes.
func TestCheckReplayed(t *testing.T) {
	key := newKey(t, "ed25519")
	r := &fakeResolver{dnsZone: dnsZone{txt: map[string][]string{
		"sel._domainkey.example.org": {key.record},
		"_dmarc.example.org":         {"v=DMARC1; p=reject"},
	}}}
	toFriend := strings.Replace(plainMessage, "To: gardeners@forum.example.net", "To: Friend <friend@elsewhere.example>\r\nCc: other@Elsewhere.example", 1)
	ccForum := strings.Replace(plainMessage, "To: gardeners@forum.example.net", "To: friend@elsewhere.example\r\nCc: \"Forum\" <ask@FORUM.example.net>", 1)
	unsigned := dkimSignKeys(t, toFriend, "example.org", "sel", key, []string{"From", "Subject", "Date", "Message-ID"})
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		raw       []byte
		dkim, evi string
	}{
		{"replayed", sign(t, toFriend, "example.org", "sel", key), PolicyFail, ""},
		{"to the forum", sign(t, plainMessage, "example.org", "sel", key), Pass, EvidenceDKIM},
		{"cc the forum", sign(t, ccForum, "example.org", "sel", key), Pass, EvidenceDKIM},
		{"to and cc not signed", unsigned, Pass, EvidenceDKIM},
	} {
		got := Check(ctx, Input{Raw: tc.raw, FromDomain: "example.org", RcptDomain: "forum.example.net"}, r)
		if got.DKIM != tc.dkim || got.Evidence() != tc.evi {
			t.Errorf("%s: %+v (evidence %q); want dkim %s evidence %q", tc.name, got, got.Evidence(), tc.dkim, tc.evi)
		}
	}
	// Without RcptDomain nothing is judged replayed.
	if got := Check(ctx, Input{Raw: sign(t, toFriend, "example.org", "sel", key), FromDomain: "example.org"}, r); got.DKIM != Pass {
		t.Errorf("no RcptDomain: %+v", got)
	}
}

// dkimSignKeys signs msg over the header fields keys only.
func dkimSignKeys(t *testing.T, msg, domain, selector string, key testKey, keys []string) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key.signer, HeaderKeys: keys,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatalf("dkim.Sign: %v", err)
	}
	return out.Bytes()
}
