// Package auth works out how well an inbound message's sender is
// authenticated, so that the result can be stored with the message and a
// configurable Policy can decide whether the sender counts as confirmed.
//
// There are two sources. When Postern is the MX, Check verifies the DKIM
// signatures and SPF itself and evaluates DMARC (Verify does DKIM only). When a front
// MTA (Postfix with OpenDKIM/OpenDMARC, rspamd, a hosted gateway) does the
// checks, FromHeaders reads the Authentication-Results fields (RFC 8601)
// it added, trusting only those carrying its configured authserv-id.
//
// Nothing in this package logs, and no returned value or error contains
// an email address: results hold only domains and result keywords.
package auth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Result keywords, as in Authentication-Results (RFC 8601 section 2.7).
// A result read from a header may hold any other keyword the front MTA
// wrote (e.g. "softfail" for SPF), lowercased.
const (
	Pass      = "pass"
	Fail      = "fail"
	None      = "none"
	TempError = "temperror"
	PermError = "permerror"
	// PolicyFail is a DKIM result when signatures verified but local
	// policy does not accept them (see Input.RcptDomain).
	PolicyFail = "policy"
)

// SourceVerified is Result.Source when Verify produced the result.
const SourceVerified = "verified"

// sourceAuthres prefixes Result.Source when the result was read from an
// Authentication-Results field; the authserv-id follows.
const sourceAuthres = "authres:"

// Result is the authentication outcome recorded with a message.
type Result struct {
	// DKIM is the combined DKIM result: "pass" when at least one
	// signature verified (and was not replayed, see Input.RcptDomain);
	// "policy" when the only valid ones were replayed; otherwise "fail",
	// "temperror" or "permerror" (in that order of precedence) from the
	// signatures that did not; "none" when the message has no signature.
	DKIM string
	// SPF is the SPF result for the envelope sender: as reported by the
	// front MTA, or checked by Check when it is given the client's IP.
	// Verify does not check SPF and reports "none".
	SPF string
	// SPFDomain is the domain SPF was evaluated for (the envelope
	// sender's, from smtp.mailfrom in a header), lowercased; "" if unknown.
	SPFDomain string
	// SPFAligned reports that SPF passed for a domain aligned with the
	// From domain (relaxed alignment, or strict when the domain's DMARC
	// record asks for aspf=s and Check evaluated it).
	SPFAligned bool
	// DMARC is the DMARC result: "pass", "fail", "none" (no policy
	// published, or no usable From domain), "temperror" or "permerror".
	DMARC string
	// DKIMDomains lists the signing domains (d=) of the signatures that
	// passed, lowercased, without duplicates, in header order.
	DKIMDomains []string
	// DKIMAligned reports that a passing signature's domain is aligned
	// with the From domain (relaxed alignment: same organizational
	// domain, see OrgDomain).
	DKIMAligned bool
	// Source is where the result comes from: "verified" (Verify), or
	// "authres:" followed by the authserv-id of the trusted
	// Authentication-Results fields. It is empty when FromHeaders found no
	// trusted field, in which case every result is "none".
	Source string
}

// noneResult is the result for a message nothing could be said about.
func noneResult() Result {
	return Result{DKIM: None, SPF: None, DMARC: None}
}

const (
	// lookupTimeout bounds each DNS query made by Verify.
	lookupTimeout = 5 * time.Second
	// maxSignatures bounds how many DKIM signatures Verify checks, and so
	// the DNS work one message can cause.
	maxSignatures = 8
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

// OrgDomain returns the organizational domain of domain (RFC 7489
// section 3.2): the public suffix plus one label, using the Public
// Suffix List compiled into golang.org/x/net/publicsuffix (its ICANN and
// private sections; for a name that matches no rule the last label is
// taken as the suffix). The list is a snapshot from when the module was
// built, so a suffix added later is treated as an ordinary domain until
// the module is updated. A domain that is itself a public suffix is its
// own organizational domain. The input is lowercased and a trailing dot
// removed.
func OrgDomain(domain string) string {
	d := normDomain(domain)
	if d == "" {
		return ""
	}
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// normDomain lowercases d, removes a trailing dot and surrounding space,
// and turns an internationalized name into its A-label form, which is
// how it appears in d= and in DNS.
func normDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			if a, err := idna.Lookup.ToASCII(d); err == nil {
				return a
			}
			return d
		}
	}
	return d
}

// FromDomain returns the domain of the single address in raw's From
// field, lowercased (A-label form for an internationalized domain). raw
// is the message or just its header. It fails when there is no From
// field, more than one, or the field does not hold exactly one mailbox;
// DMARC treats such messages as having no usable author domain. The
// error never contains the address.
func FromDomain(raw []byte) (string, error) {
	h := readHeader(raw)
	froms := h.Values("From")
	switch len(froms) {
	case 0:
		return "", errors.New("auth: message has no From field")
	case 1:
	default:
		return "", errors.New("auth: message has more than one From field")
	}
	// Names in an unknown charset must not stop us reading the address.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	// The parser's error text may quote the field, so it is not wrapped.
	list, err := p.ParseList(froms[0])
	if err != nil {
		return "", errors.New("auth: From field is not a valid address list")
	}
	if len(list) != 1 {
		return "", errors.New("auth: From field does not hold exactly one mailbox")
	}
	addr := list[0].Address
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", errors.New("auth: From address has no domain")
	}
	d := normDomain(addr[at+1:])
	if d == "" {
		return "", errors.New("auth: From address has no domain")
	}
	return d, nil
}

// readHeader parses raw's header leniently: on a syntax error it keeps
// the fields read before it.
func readHeader(raw []byte) textproto.Header {
	h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	return h
}

// FromHeaders reads the authentication results that a trusted front MTA
// recorded in raw (the message or just its header) as
// Authentication-Results fields. Only fields whose authserv-id equals
// trustedID (case-insensitively) are read; all others are ignored, as
// anyone can write them. An empty trustedID trusts nothing and gives
// "none" everywhere.
//
// For each method (dkim, spf, dmarc) the results come from the topmost
// trusted field that reports the method, i.e. the one the MTA added last.
// This relies on the front MTA removing (or renaming) incoming
// Authentication-Results fields that claim its authserv-id, as RFC 8601
// section 5 recommends; configure it to do so, or a sender can forge
// results below the MTA's own.
//
// DKIMDomains come from header.d (or the domain of header.i) of passing
// dkim results, and DKIMAligned compares them with the From field's
// domain; SPF counts as aligned only for smtp.mailfrom (never
// smtp.helo). A dmarc=pass counts only when its header.from is the From
// field's domain; otherwise it is recorded as "none". Source is "authres:" plus the authserv-id, or empty when no
// trusted field was found.
func FromHeaders(raw []byte, trustedID string) Result {
	res := noneResult()
	id := strings.TrimSpace(trustedID)
	if id == "" {
		return res
	}
	h := readHeader(raw)
	var (
		done                            = map[string]bool{}
		pass, fail, temp, perm, sawDKIM bool
		dmarcFrom                       string
	)
	for fs := h.Fields(); fs.Next(); {
		if !strings.EqualFold(fs.Key(), "Authentication-Results") {
			continue
		}
		ident, results, _ := authres.Parse(cleanAuthres(fs.Value()))
		if ident == "" || !strings.EqualFold(ident, id) {
			continue
		}
		res.Source = sourceAuthres + strings.ToLower(ident)
		seen := map[string]bool{}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DKIMResult:
				if done["dkim"] {
					continue
				}
				seen["dkim"] = true
				sawDKIM = true
				switch v := string(r.Value); v {
				case Pass:
					pass = true
					d := r.Domain
					if d == "" {
						if at := strings.LastIndexByte(r.Identifier, '@'); at >= 0 {
							d = r.Identifier[at+1:]
						}
					}
					res.DKIMDomains = appendDomain(res.DKIMDomains, d)
				case TempError:
					temp = true
				case PermError:
					perm = true
				case None, "":
				default: // fail, neutral, policy: the signature did not verify
					fail = true
				}
			case *authres.SPFResult:
				if !done["spf"] && !seen["spf"] {
					seen["spf"] = true
					res.SPF = keyword(r.Value)
					d := r.From
					if at := strings.LastIndexByte(d, '@'); at >= 0 {
						d = d[at+1:]
					}
					res.SPFDomain = normDomain(d)
				}
			case *authres.DMARCResult:
				if !done["dmarc"] && !seen["dmarc"] {
					seen["dmarc"] = true
					res.DMARC = keyword(r.Value)
					dmarcFrom = r.From
				}
			}
		}
		for m := range seen {
			done[m] = true
		}
	}
	if sawDKIM {
		res.DKIM = combine(pass, fail, temp, perm)
	}
	from, err := FromDomain(raw)
	if err == nil {
		res.DKIMAligned = anyAligned(res.DKIMDomains, from, false)
		res.SPFAligned = res.SPF == Pass && anyAligned([]string{res.SPFDomain}, from, false)
	}
	if res.DMARC == Pass {
		if at := strings.LastIndexByte(dmarcFrom, '@'); at >= 0 {
			dmarcFrom = dmarcFrom[at+1:]
		}
		if err != nil || normDomain(dmarcFrom) != from {
			// A pass for another author domain (or none named, or a
			// message whose From is not one mailbox) says nothing
			// about this From.
			res.DMARC = None
		}
	}
	return res
}

// keyword normalizes a result value; an empty one is "none".
func keyword(v authres.ResultValue) string {
	s := strings.ToLower(strings.TrimSpace(string(v)))
	if s == "" {
		return None
	}
	return s
}

// cleanAuthres prepares an Authentication-Results value for
// authres.Parse, which understands neither comments nor quoted strings:
// it drops RFC 5322 comments (which may nest and hold ';' or '='), and
// blanks the ';' inside quoted strings so they do not split a result.
func cleanAuthres(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	depth := 0
	quoted := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(v):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(v[i+1])
			}
			i++
		case quoted:
			if c == '"' {
				quoted = false
			}
			if c == ';' {
				c = ' '
			}
			b.WriteByte(c)
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Policy is the authentication a confirmed member's message needs to be
// published under their name. The zero value behaves as PolicyEvidence.
type Policy string

const (
	// PolicyEvidence (the default) accepts any evidence that the member
	// sent the message: an aligned DKIM or SPF pass, or DMARC pass (see
	// Result.Evidence); the caller adds the evidence this package cannot
	// see (the member's own reply token with their envelope sender, a
	// trusted network).
	PolicyEvidence Policy = "evidence"
	// PolicyDKIM requires a passing DKIM signature aligned with the From
	// domain (Result.DKIM "pass" and Result.DKIMAligned), nothing else.
	PolicyDKIM Policy = "dkim"
	// PolicyDMARC requires Result.DMARC "pass", nothing else.
	PolicyDMARC Policy = "dmarc"
)

// errPolicyNone explains the retired value "none".
var errPolicyNone = errors.New(`auth: policy "none" was retired: it let anyone post as any member by writing their address in From; ` +
	`use "evidence" (the default), and list networks whose mail is trusted without proof in POSTERN_TRUSTED_NETWORKS`)

// ParsePolicy checks a configured policy name ("evidence", "dkim" or
// "dmarc", case-insensitive; empty means "evidence"). The retired "none"
// is refused with an explanation.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToLower(strings.TrimSpace(s))); p {
	case "", PolicyEvidence:
		return PolicyEvidence, nil
	case PolicyDKIM, PolicyDMARC:
		return p, nil
	case "none":
		return "", errPolicyNone
	default:
		return "", errors.New(`auth: unknown policy (want "evidence", "dkim" or "dmarc")`)
	}
}

// Evidence kinds that an authentication result can give.
const (
	EvidenceDKIM  = "dkim"  // a passing DKIM signature aligned with From
	EvidenceSPF   = "spf"   // SPF passed for an envelope domain aligned with From
	EvidenceDMARC = "dmarc" // DMARC "pass" (as reported by the trusted front MTA)
)

// Evidence returns what in r shows that the From domain sent the message:
// EvidenceDKIM, EvidenceSPF or EvidenceDMARC (in that order of
// preference), or "" when nothing does.
func (r Result) Evidence() string {
	switch {
	case r.DKIM == Pass && r.DKIMAligned:
		return EvidenceDKIM
	case r.SPF == Pass && r.SPFAligned:
		return EvidenceSPF
	case r.DMARC == Pass:
		return EvidenceDMARC
	}
	return ""
}

// Temporary reports whether a DNS failure or timeout left any of DKIM,
// SPF or DMARC undecided ("temperror"): the result may differ later.
func (r Result) Temporary() bool {
	return r.DKIM == TempError || r.SPF == TempError || r.DMARC == TempError
}

// Satisfied reports whether r alone meets p. An unknown policy is never
// satisfied, so a configuration typo fails closed; check configured
// values with ParsePolicy at start-up.
func (p Policy) Satisfied(r Result) bool {
	switch p {
	case "", PolicyEvidence:
		return r.Evidence() != ""
	case PolicyDKIM:
		return r.DKIM == Pass && r.DKIMAligned
	case PolicyDMARC:
		return r.DMARC == Pass
	default:
		return false
	}
}
