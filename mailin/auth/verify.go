package auth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
)

// LookupFunc returns the TXT records at name, one string per record with
// the record's character-strings joined, like net.Resolver.LookupTXT. An
// empty list means there is no record. For a name that does not exist
// return a *net.DNSError with IsNotFound set; for a transient failure
// return a *net.DNSError with IsTemporary or IsTimeout set, so that it
// is reported as "temperror" rather than "permerror".
type LookupFunc func(ctx context.Context, name string) ([]string, error)

// Verify checks the DKIM signatures of raw (the message exactly as
// received, header and body) and evaluates DMARC for fromDomain, the
// domain of the message's single From address (see FromDomain); an empty
// fromDomain gives DMARC "none".
//
// lookup answers the DNS queries for keys and DMARC records; nil uses
// net.DefaultResolver, each query limited to a few seconds. At most 8
// signatures are checked. A cancelled ctx makes pending queries
// temporary errors.
//
// DMARC is evaluated for DKIM only, since SPF is not checked here: the
// result is "pass" when a passing signature is aligned with fromDomain
// as the domain's policy requires (adkim=s: same domain; otherwise the
// same organizational domain), "fail" when the domain (or its
// organizational domain) publishes a policy and no signature is aligned,
// and "none" when it publishes none. A sender whose DMARC pass rests
// only on SPF therefore gets "fail" here.
func Verify(ctx context.Context, raw []byte, fromDomain string, lookup LookupFunc) Result {
	return verify(ctx, raw, fromDomain, "", txtLookup(ctx, lookup), noneResult())
}

// verify is Verify with the SPF half of res already filled in (SPF,
// SPFDomain; SPF "none" when it was not checked). DMARC passes on an
// aligned DKIM pass or an aligned SPF pass. rcptDomain is Input.RcptDomain.
func verify(ctx context.Context, raw []byte, fromDomain, rcptDomain string, txt func(string) ([]string, error), res Result) Result {
	res.Source = SourceVerified

	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw),
		&dkim.VerifyOptions{LookupTXT: txt, MaxVerifications: maxSignatures})
	switch {
	case err == nil || errors.Is(err, dkim.ErrTooManySignatures):
		res.DKIM, res.DKIMDomains = summarizeDKIM(verifs, recipientCheck(raw, rcptDomain))
	case !hasSignatureField(raw):
		// The header could not be read, but there is nothing to verify.
	case ctx.Err() != nil:
		res.DKIM = TempError
	default:
		// An unreadable header or an unexpected error: the library's
		// per-signature results are not reliable then.
		res.DKIM = PermError
	}

	from := normDomain(fromDomain)
	res.DKIMAligned = anyAligned(res.DKIMDomains, from, false)
	spfPass := res.SPF == Pass && res.SPFDomain != ""
	res.SPFAligned = spfPass && anyAligned([]string{res.SPFDomain}, from, false)
	if from == "" {
		return res
	}
	rec, err := lookupDMARC(from, txt)
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		res.DMARC = None
	case err != nil && (dmarc.IsTempFail(err) || ctx.Err() != nil):
		res.DMARC = TempError
	case err != nil:
		res.DMARC = PermError
	default:
		res.SPFAligned = spfPass && anyAligned([]string{res.SPFDomain}, from, rec.SPFAlignment == dmarc.AlignmentStrict)
		if anyAligned(res.DKIMDomains, from, rec.DKIMAlignment == dmarc.AlignmentStrict) || res.SPFAligned {
			res.DMARC = Pass
		} else {
			res.DMARC = Fail
		}
	}
	return res
}

// txtLookup adapts lookup (or the default resolver) to the context-free
// function go-msgauth calls, applying ctx and the per-query timeout.
// go-msgauth classifies errors by asserting net.Error, so timeouts are
// reported as a temporary *net.DNSError rather than wrapped.
func txtLookup(ctx context.Context, lookup LookupFunc) func(string) ([]string, error) {
	if lookup == nil {
		lookup = net.DefaultResolver.LookupTXT
	}
	return func(name string) ([]string, error) {
		if ctx.Err() != nil {
			return nil, &net.DNSError{Err: "lookup cancelled", Name: name, IsTimeout: true, IsTemporary: true}
		}
		c, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		txts, err := lookup(c, name)
		if err != nil && c.Err() != nil {
			return nil, &net.DNSError{Err: "lookup timed out", Name: name, IsTimeout: true, IsTemporary: true}
		}
		return txts, err
	}
}

// lookupDMARC finds the DMARC record for domain, falling back to its
// organizational domain (RFC 7489 section 6.6.3).
func lookupDMARC(domain string, txt func(string) ([]string, error)) (*dmarc.Record, error) {
	opts := &dmarc.LookupOptions{LookupTXT: txt}
	rec, err := dmarc.LookupWithOptions(domain, opts)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := OrgDomain(domain); org != domain {
			rec, err = dmarc.LookupWithOptions(org, opts)
		}
	}
	return rec, err
}

// summarizeDKIM combines the per-signature verifications. A valid
// signature that replayed rejects (see recipientCheck) does not count as
// a pass; when no other passes, the result is "policy".
func summarizeDKIM(verifs []*dkim.Verification, replayed func(signed []string) bool) (string, []string) {
	var domains []string
	var fail, temp, perm, policy bool
	for _, v := range verifs {
		if v == nil {
			continue
		}
		switch {
		case v.Err == nil && replayed(v.HeaderKeys):
			policy = true
		case v.Err == nil:
			domains = appendDomain(domains, v.Domain)
		case dkim.IsTempFail(v.Err):
			temp = true
		case dkim.IsPermFail(v.Err):
			perm = true
		default:
			fail = true
		}
	}
	if len(domains) == 0 && policy {
		return PolicyFail, nil
	}
	return combine(len(domains) > 0, fail, temp, perm), domains
}

// recipientCheck returns the test summarizeDKIM applies to a valid
// signature's signed header fields: with rcptDomain set, a signature
// that signs To or Cc while neither names an address in rcptDomain was
// made for other recipients (the message is replayed). A message whose
// To and Cc are not signed cannot be told apart and passes.
func recipientCheck(raw []byte, rcptDomain string) func(signed []string) bool {
	rcptDomain = normDomain(rcptDomain)
	if rcptDomain == "" {
		return func([]string) bool { return false }
	}
	h := readHeader(raw)
	named := false
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	for _, k := range []string{"To", "Cc"} {
		for _, v := range h.Values(k) {
			list, _ := p.ParseList(v)
			for _, a := range list {
				if at := strings.LastIndexByte(a.Address, '@'); at >= 0 && normDomain(a.Address[at+1:]) == rcptDomain {
					named = true
				}
			}
		}
	}
	return func(signed []string) bool {
		if named {
			return false
		}
		for _, k := range signed {
			if strings.EqualFold(strings.TrimSpace(k), "to") || strings.EqualFold(strings.TrimSpace(k), "cc") {
				return true
			}
		}
		return false
	}
}

// combine turns the kinds of per-signature outcomes seen into one result.
func combine(pass, fail, temp, perm bool) string {
	switch {
	case pass:
		return Pass
	case fail:
		return Fail
	case temp:
		return TempError
	case perm:
		return PermError
	default:
		return None
	}
}

// appendDomain adds a normalized domain to list unless it is empty or
// already there.
func appendDomain(list []string, d string) []string {
	d = normDomain(d)
	if d == "" {
		return list
	}
	for _, x := range list {
		if x == d {
			return list
		}
	}
	return append(list, d)
}

// hasSignatureField reports whether raw's header (or what can be told
// of it) has a DKIM-Signature field.
func hasSignatureField(raw []byte) bool {
	const name = "dkim-signature:"
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return false // end of header
		}
		if len(line) >= len(name) && strings.EqualFold(string(line[:len(name)]), name) {
			return true
		}
	}
	return false
}

// anyAligned reports whether one of domains is aligned with from: equal
// (strict) or with the same organizational domain (relaxed).
func anyAligned(domains []string, from string, strict bool) bool {
	if from == "" {
		return false
	}
	for _, d := range domains {
		if d == from || (!strict && OrgDomain(d) == OrgDomain(from)) {
			return true
		}
	}
	return false
}
