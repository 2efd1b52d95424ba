package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/postern/postern/internal/corpus"
)

// dnsZone is a tiny in-memory DNS: TXT records by name, and names whose
// lookup fails temporarily.
type dnsZone struct {
	txt       map[string][]string
	temporary map[string]bool
}

func (z *dnsZone) lookup(ctx context.Context, name string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name = strings.ToLower(name)
	if z.temporary[name] {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	if r, ok := z.txt[name]; ok {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// testKey is a freshly generated signing key and its DNS record.
type testKey struct {
	signer crypto.Signer
	record string
}

func newKey(t *testing.T, kind string) testKey {
	t.Helper()
	switch kind {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return testKey{k, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}
	case "ed25519":
		pub, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return testKey{k, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
	}
	t.Fatalf("unknown key kind %s", kind)
	return testKey{}
}

const plainMessage = "From: Ann Example <ann@example.org>\r\n" +
	"To: gardeners@forum.example.net\r\n" +
	"Subject: Why do my tomatoes split?\r\n" +
	"Date: Tue, 04 Mar 2025 05:06:07 +0000\r\n" +
	"Message-ID: <q1@mail.example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"They split after rain. Any idea?\r\n"

func sign(t *testing.T, msg, domain, selector string, key testKey) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key.signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatalf("dkim.Sign: %v", err)
	}
	return out.Bytes()
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"rsa", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			key := newKey(t, kind)
			zone := &dnsZone{txt: map[string][]string{
				"s1._domainkey.example.org":      {key.record},
				"s1._domainkey.mail.example.org": {key.record},
				"s1._domainkey.esp.example":      {key.record},
				"_dmarc.example.org":             {"v=DMARC1; p=reject"},
			}}
			signed := sign(t, plainMessage, "example.org", "s1", key)

			from, err := FromDomain(signed)
			if err != nil || from != "example.org" {
				t.Fatalf("FromDomain = %q, %v", from, err)
			}
			got := Verify(ctx, signed, from, zone.lookup)
			want := Result{DKIM: Pass, SPF: None, DMARC: Pass, DKIMDomains: []string{"example.org"},
				DKIMAligned: true, Source: SourceVerified}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("signed: got %+v, want %+v", got, want)
			}
			for _, p := range []Policy{PolicyEvidence, PolicyDKIM, PolicyDMARC} {
				if !p.Satisfied(got) {
					t.Errorf("policy %s not satisfied by an aligned pass", p)
				}
			}

			// A subdomain signature is aligned in relaxed mode only.
			sub := sign(t, plainMessage, "mail.example.org", "s1", key)
			got = Verify(ctx, sub, "example.org", zone.lookup)
			if got.DKIM != Pass || !got.DKIMAligned || got.DMARC != Pass {
				t.Errorf("subdomain signature, relaxed: %+v", got)
			}
			strict := &dnsZone{txt: map[string][]string{
				"s1._domainkey.mail.example.org": {key.record},
				"_dmarc.example.org":             {"v=DMARC1; p=quarantine; adkim=s"},
			}}
			if got := Verify(ctx, sub, "example.org", strict.lookup); got.DMARC != Fail || !got.DKIMAligned {
				t.Errorf("subdomain signature, adkim=s: %+v", got)
			}

			// A third party's valid signature is not aligned.
			esp := sign(t, plainMessage, "esp.example", "s1", key)
			got = Verify(ctx, esp, "example.org", zone.lookup)
			if got.DKIM != Pass || got.DKIMAligned || got.DMARC != Fail ||
				!reflect.DeepEqual(got.DKIMDomains, []string{"esp.example"}) {
				t.Errorf("unaligned signature: %+v", got)
			}
			if PolicyDKIM.Satisfied(got) || PolicyDMARC.Satisfied(got) {
				t.Error("an unaligned signature satisfies a policy")
			}

			// Tampering with the body makes the signature fail.
			tampered := bytes.Replace(signed, []byte("after rain"), []byte("after hail"), 1)
			got = Verify(ctx, tampered, "example.org", zone.lookup)
			if got.DKIM != Fail || got.DKIMAligned || len(got.DKIMDomains) != 0 || got.DMARC != Fail {
				t.Errorf("tampered: %+v", got)
			}
			if PolicyDKIM.Satisfied(got) {
				t.Error("a tampered message satisfies the dkim policy")
			}
		})
	}
}

func TestVerifyUnsignedAndErrors(t *testing.T) {
	ctx := context.Background()
	key := newKey(t, "ed25519")
	withPolicy := &dnsZone{txt: map[string][]string{"_dmarc.example.org": {"v=DMARC1; p=none"}}}
	empty := &dnsZone{}

	got := Verify(ctx, []byte(plainMessage), "example.org", empty.lookup)
	want := Result{DKIM: None, SPF: None, DMARC: None, Source: SourceVerified}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unsigned, no DMARC record: got %+v, want %+v", got, want)
	}
	if PolicyDKIM.Satisfied(got) || PolicyDMARC.Satisfied(got) || PolicyEvidence.Satisfied(got) {
		t.Error("policies on an unsigned message")
	}
	if got := Verify(ctx, []byte(plainMessage), "example.org", withPolicy.lookup); got.DKIM != None || got.DMARC != Fail {
		t.Errorf("unsigned, DMARC record: %+v", got)
	}
	// The organizational domain's record applies to a subdomain.
	if got := Verify(ctx, []byte(plainMessage), "lists.example.org", withPolicy.lookup); got.DMARC != Fail {
		t.Errorf("unsigned, subdomain of a DMARC domain: %+v", got)
	}
	if got := Verify(ctx, []byte(plainMessage), "", withPolicy.lookup); got.DMARC != None {
		t.Errorf("no From domain: %+v", got)
	}

	signed := sign(t, plainMessage, "example.org", "s1", key)
	// No key published: a permanent error.
	if got := Verify(ctx, signed, "example.org", withPolicy.lookup); got.DKIM != PermError || got.DMARC != Fail {
		t.Errorf("missing key: %+v", got)
	}
	// DNS trouble: temporary errors.
	flaky := &dnsZone{temporary: map[string]bool{"s1._domainkey.example.org": true, "_dmarc.example.org": true}}
	if got := Verify(ctx, signed, "example.org", flaky.lookup); got.DKIM != TempError || got.DMARC != TempError {
		t.Errorf("temporary DNS failure: %+v", got)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	good := &dnsZone{txt: map[string][]string{"s1._domainkey.example.org": {key.record}}}
	if got := Verify(cancelled, signed, "example.org", good.lookup); got.DKIM != TempError || got.DMARC != TempError {
		t.Errorf("cancelled context: %+v", got)
	}
	// Not a message at all.
	if got := Verify(ctx, []byte("garbage without header end"), "example.org", empty.lookup); got.DKIM != None {
		t.Errorf("garbage: %+v", got)
	}
}

func TestOrgDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.org":              "example.org",
		"Mail.Example.ORG.":        "example.org",
		"a.b.example.co.uk":        "example.co.uk",
		"example.co.uk":            "example.co.uk",
		"co.uk":                    "co.uk",
		"mail.example.com.au":      "example.com.au",
		"x.y.z.example.ac.jp":      "example.ac.jp",
		"localhost":                "localhost",
		"":                         "",
		"bücher.example":           "xn--bcher-kva.example",
		"lists.xn--bcher-kva.test": "xn--bcher-kva.test",
	} {
		if got := OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromDomain(t *testing.T) {
	cases := []struct {
		header string
		want   string // "" means an error
	}{
		{"From: ann@Example.ORG\r\n\r\n", "example.org"},
		{"From: =?x-unknown?q?Ann?= <ann@example.org>\r\n\r\n", "example.org"},
		{"From: \"Ann, B.\" <ann@example.org>\r\n\r\n", "example.org"},
		{"From: ann@example.org, bob@example.net\r\n\r\n", ""},
		{"From: ann@example.org\r\nFrom: bob@example.net\r\n\r\n", ""},
		{"To: ann@example.org\r\n\r\n", ""},
		{"From: not an address\r\n\r\n", ""},
	}
	for _, c := range cases {
		got, err := FromDomain([]byte(c.header))
		if c.want == "" {
			if err == nil {
				t.Errorf("FromDomain(%q) = %q, want an error", c.header, got)
			} else if strings.Contains(err.Error(), "@") {
				t.Errorf("error %q contains an address", err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("FromDomain(%q) = %q, %v; want %q", c.header, got, err, c.want)
		}
	}
}

func TestFromHeaders(t *testing.T) {
	msg := "Authentication-Results: mx.forum.example.net;\r\n" +
		"\tdkim=pass (2048-bit key; unprotected) header.d=mail.example.org header.i=@mail.example.org header.s=s1 header.b=abcd;\r\n" +
		"\tdkim=fail (body hash; did not verify) header.d=esp.example;\r\n" +
		"\tspf=softfail (forum.example.net: domain of transitioning ann@example.org does not designate 192.0.2.1 as permitted sender) smtp.mailfrom=example.org;\r\n" +
		"\tdmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org\r\n" +
		"Received: from mail.example.org (mail.example.org [192.0.2.1])\r\n\tby mx.forum.example.net; Tue, 04 Mar 2025 05:06:08 +0000\r\n" +
		"Authentication-Results: mx.forum.example.net; dkim=fail; spf=fail; dmarc=fail\r\n" +
		"Authentication-Results: evil.example; dkim=pass header.d=example.org; spf=pass; dmarc=pass\r\n" +
		plainMessage

	got := FromHeaders([]byte(msg), "MX.forum.example.net")
	want := Result{DKIM: Pass, SPF: "softfail", SPFDomain: "example.org", DMARC: Pass, DKIMDomains: []string{"mail.example.org"},
		DKIMAligned: true, Source: "authres:mx.forum.example.net"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trusted: got %+v, want %+v", got, want)
	}
	// An SPF pass is aligned when smtp.mailfrom shares From's
	// organizational domain.
	for mailfrom, aligned := range map[string]bool{"bounces@lists.example.org": true, "example.org": true, "m@other.example": false} {
		spfMsg := "Authentication-Results: mx.forum.example.net; spf=pass smtp.mailfrom=" + mailfrom + "\r\n" + plainMessage
		r := FromHeaders([]byte(spfMsg), "mx.forum.example.net")
		if r.SPF != Pass || r.SPFAligned != aligned || (r.Evidence() == EvidenceSPF) != aligned {
			t.Errorf("spf pass for %s: %+v, want aligned %v", mailfrom, r, aligned)
		}
	}

	// Fields from any other authserv-id are ignored.
	got = FromHeaders([]byte(msg), "evil2.example")
	if want := noneResult(); !reflect.DeepEqual(got, want) {
		t.Errorf("unknown id: got %+v, want %+v", got, want)
	}
	untrusted := "Authentication-Results: evil.example; dkim=pass header.d=example.org; spf=pass; dmarc=pass\r\n" + plainMessage
	if got := FromHeaders([]byte(untrusted), "mx.forum.example.net"); got.DKIM != None || got.DMARC != None || got.Source != "" || PolicyDMARC.Satisfied(got) {
		t.Errorf("untrusted field was read: %+v", got)
	}
	// Trusting the forger's id does read it (a DMARC pass naming no
	// header.from is not taken as about this From).
	if got := FromHeaders([]byte(untrusted), "evil.example"); got.DMARC != None || !got.DKIMAligned || got.Source != "authres:evil.example" {
		t.Errorf("trusted forger's field: %+v", got)
	}
	// An empty trusted id trusts nothing.
	if got := FromHeaders([]byte(msg), ""); !reflect.DeepEqual(got, noneResult()) {
		t.Errorf("empty trusted id: %+v", got)
	}
	// "none" results and a version number.
	noneMsg := "Authentication-Results: mx.forum.example.net 1; none\r\n" + plainMessage
	if got := FromHeaders([]byte(noneMsg), "mx.forum.example.net"); got.DKIM != None || got.Source != "authres:mx.forum.example.net" {
		t.Errorf("none result: %+v", got)
	}
	// The topmost field per method: a later dkim-only field does not
	// override a dmarc result from an earlier one.
	split := "Authentication-Results: mx.forum.example.net; dmarc=fail header.from=example.org\r\n" +
		"Authentication-Results: mx.forum.example.net; dkim=pass header.d=example.org\r\n" +
		"Authentication-Results: mx.forum.example.net; dkim=fail header.d=example.org; dmarc=pass\r\n" +
		plainMessage
	if got := FromHeaders([]byte(split), "mx.forum.example.net"); got.DMARC != Fail || got.DKIM != Pass || !got.DKIMAligned {
		t.Errorf("per-method topmost: %+v", got)
	}
}

func TestCleanAuthres(t *testing.T) {
	in := `mx.example (comment; with (nested) parts); dkim=pass reason="a;b" (x=y)`
	want := `mx.example  ; dkim=pass reason="a b"  `
	if got := cleanAuthres(in); got != want {
		t.Errorf("cleanAuthres = %q, want %q", got, want)
	}
}

func TestFromHeadersCorpus(t *testing.T) {
	dir := corpus.Dir(t, "discourse-emails")
	for _, name := range []string{"dmarc_fail.eml", "mailinglist_dmarc_fail.eml"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := FromHeaders(raw, "example.com")
		if got.DMARC != Fail || got.DKIM != None || got.SPF != None || got.Source != "authres:example.com" {
			t.Errorf("%s: %+v, want DMARC fail from authres:example.com", name, got)
		}
		if PolicyDMARC.Satisfied(got) || PolicyEvidence.Satisfied(got) {
			t.Errorf("%s: policies wrong for %+v", name, got)
		}
		if got := FromHeaders(raw, "mx.other.example"); !reflect.DeepEqual(got, noneResult()) {
			t.Errorf("%s with another trusted id: %+v", name, got)
		}
	}
}

func TestPolicy(t *testing.T) {
	for in, want := range map[string]Policy{"": PolicyEvidence, "evidence": PolicyEvidence, " DKIM ": PolicyDKIM, "dmarc": PolicyDMARC} {
		got, err := ParsePolicy(in)
		if err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePolicy("spf"); err == nil {
		t.Error("ParsePolicy(spf) succeeded")
	}
	if _, err := ParsePolicy("none"); err == nil || !strings.Contains(err.Error(), "retired") {
		t.Errorf("ParsePolicy(none) = %v, want the retirement explained", err)
	}
	pass := Result{DKIM: Pass, DMARC: Pass, DKIMAligned: true}
	if Policy("bogus").Satisfied(pass) {
		t.Error("unknown policy satisfied")
	}
	if Policy("").Satisfied(noneResult()) {
		t.Error("zero policy satisfied without evidence")
	}
	for _, r := range []Result{{DKIM: Pass, DKIMAligned: true}, {SPF: Pass, SPFAligned: true}, {DMARC: Pass}} {
		if !PolicyEvidence.Satisfied(r) {
			t.Errorf("evidence policy not satisfied by %+v", r)
		}
	}
	if PolicyEvidence.Satisfied(Result{DKIM: Pass, SPF: Pass}) {
		t.Error("evidence policy satisfied by unaligned passes")
	}
	if PolicyDKIM.Satisfied(Result{DKIM: Pass}) {
		t.Error("dkim policy satisfied without alignment")
	}
	if !PolicyDMARC.Satisfied(Result{DMARC: Pass}) || PolicyDMARC.Satisfied(Result{DMARC: Fail}) {
		t.Error("dmarc policy")
	}
}

// TestFromHeadersAttacker: what a sender can write into the trusted
// front MTA's Authentication-Results does not become evidence: a DMARC
// pass about another author domain, or naming none; an SPF pass for the
// HELO name only; a DKIM pass for an unaligned d=; and, below the MTA's
// own field, a forged field with the MTA's id claiming the methods the
// MTA reported (the topmost per method wins). Two From fields give no
// alignment at all.
func TestFromHeadersAttacker(t *testing.T) {
	const id = "mx.forum.example.net"
	cases := []struct {
		name, fields string
		evidence     string
	}{
		{"dmarc pass for another domain", id + "; dmarc=pass header.from=evil.example", ""},
		{"dmarc pass without header.from", id + "; dmarc=pass", ""},
		{"dmarc pass for From", id + "; dmarc=pass header.from=example.org", EvidenceDMARC},
		{"spf pass for the helo only", id + "; spf=pass smtp.helo=example.org", ""},
		{"spf pass for the helo, mailfrom elsewhere", id + "; spf=pass smtp.mailfrom=m@evil.example smtp.helo=mail.example.org", ""},
		{"dkim pass unaligned", id + "; dkim=pass header.d=evil.example header.i=@evil.example", ""},
		{"dkim pass for a look-alike", id + "; dkim=pass header.d=example.org.evil.example", ""},
	}
	for _, c := range cases {
		r := FromHeaders([]byte("Authentication-Results: "+c.fields+"\r\n"+plainMessage), id)
		if got := r.Evidence(); got != c.evidence {
			t.Errorf("%s: evidence %q, want %q (%+v)", c.name, got, c.evidence, r)
		}
	}
	// The MTA's own field on top reports every method; a forged one with
	// its id below is never read.
	forged := "Authentication-Results: " + id + "; dkim=none; spf=fail smtp.mailfrom=example.org; dmarc=fail header.from=example.org\r\n" +
		"Received: from evil.example by " + id + "; Tue, 04 Mar 2025 05:06:08 +0000\r\n" +
		"Authentication-Results: " + id + "; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org\r\n" +
		plainMessage
	if r := FromHeaders([]byte(forged), id); r.Evidence() != "" || r.DKIM != None || r.DMARC != Fail {
		t.Errorf("forged field below the MTA's was read: %+v", r)
	}
	two := "Authentication-Results: " + id + "; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\n" +
		"From: Mallory <m@evil.example>\r\n" + plainMessage
	if r := FromHeaders([]byte(two), id); r.Evidence() != "" {
		t.Errorf("two From fields: evidence %q (%+v)", r.Evidence(), r)
	}
}
