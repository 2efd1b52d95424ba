package auth

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

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
	s := authresReader{res: &res, done: map[string]bool{}}
	for fs := h.Fields(); fs.Next(); {
		if !strings.EqualFold(fs.Key(), "Authentication-Results") {
			continue
		}
		ident, results, _ := authres.Parse(cleanAuthres(fs.Value()))
		if ident == "" || !strings.EqualFold(ident, id) {
			continue
		}
		res.Source = sourceAuthres + strings.ToLower(ident)
		s.field(results)
	}
	if s.sawDKIM {
		res.DKIM = combine(s.pass, s.fail, s.temp, s.perm)
	}
	from, err := FromDomain(raw)
	if err == nil {
		res.DKIMAligned = anyAligned(res.DKIMDomains, from, false)
		res.SPFAligned = res.SPF == Pass && anyAligned([]string{res.SPFDomain}, from, false)
	}
	if res.DMARC == Pass {
		dmarcFrom := s.dmarcFrom
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

// authresReader gathers FromHeaders' results over the trusted fields,
// topmost first: a method reported by one field is not read again from
// the fields below it (done).
type authresReader struct {
	res                             *Result
	done                            map[string]bool
	pass, fail, temp, perm, sawDKIM bool   // what the dkim results said
	dmarcFrom                       string // header.from of the dmarc result
}

// field reads the results of one trusted field.
func (s *authresReader) field(results []authres.Result) {
	res := s.res
	seen := map[string]bool{}
	for _, r := range results {
		switch r := r.(type) {
		case *authres.DKIMResult:
			if s.done["dkim"] {
				continue
			}
			seen["dkim"] = true
			s.sawDKIM = true
			s.dkim(r)
		case *authres.SPFResult:
			if !s.done["spf"] && !seen["spf"] {
				seen["spf"] = true
				res.SPF = keyword(r.Value)
				d := r.From
				if at := strings.LastIndexByte(d, '@'); at >= 0 {
					d = d[at+1:]
				}
				res.SPFDomain = normDomain(d)
			}
		case *authres.DMARCResult:
			if !s.done["dmarc"] && !seen["dmarc"] {
				seen["dmarc"] = true
				res.DMARC = keyword(r.Value)
				s.dmarcFrom = r.From
			}
		}
	}
	for m := range seen {
		s.done[m] = true
	}
}

// dkim reads one dkim result: every one of the topmost field counts.
func (s *authresReader) dkim(r *authres.DKIMResult) {
	switch v := string(r.Value); v {
	case Pass:
		s.pass = true
		d := r.Domain
		if d == "" {
			if at := strings.LastIndexByte(r.Identifier, '@'); at >= 0 {
				d = r.Identifier[at+1:]
			}
		}
		s.res.DKIMDomains = appendDomain(s.res.DKIMDomains, d)
	case TempError:
		s.temp = true
	case PermError:
		s.perm = true
	case None, "":
	default: // fail, neutral, policy: the signature did not verify
		s.fail = true
	}
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
