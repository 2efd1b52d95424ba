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
	"errors"
	"strings"
	"time"
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
