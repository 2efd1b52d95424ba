// Package classify decides whether a parsed inbound message was written by
// a person, sent automatically (auto-replies, list traffic, robots), or is
// a delivery-failure report (bounce), and extracts bounce details.
//
// Everything here is a pure function of its inputs.
package classify

import (
	"regexp"
	"strings"

	"github.com/postern/postern/mailin/parse"
)

// Kind is the broad class of an inbound message.
type Kind int

const (
	// Human is mail written by a person; it may be posted.
	Human Kind = iota
	// Auto is automatic mail (auto-reply, mailing list, robot); it must
	// never be posted nor answered.
	Auto
	// Bounce is a delivery status notification; it must never be answered.
	Bounce
)

// String returns "human", "auto" or "bounce".
func (k Kind) String() string {
	switch k {
	case Human:
		return "human"
	case Auto:
		return "auto"
	case Bounce:
		return "bounce"
	}
	return "unknown"
}

// Verdict is the result of Classify.
type Verdict struct {
	Kind Kind
	// Reason is a short, stable, machine-readable explanation such as
	// "auto-submitted: auto-replied", "precedence: bulk", "list-id",
	// "empty envelope sender", "x-loop", "out-of-office subject",
	// "noreply sender" or "dsn"; "" for Human.
	Reason string
}

// oooSubjectRe matches subjects of out-of-office and other automatic
// replies in common languages; it is anchored at the start (after any
// "Re:"-style prefixes are removed) so people discussing absences are not
// caught.
var oooSubjectRe = regexp.MustCompile(`(?i)^\s*(?:` +
	`out of (?:the )?office|ooo[:\s]|automatic reply|auto[- ]?reply|auto[- ]?response|autoresponder|` +
	`\[auto generated\]|\[auto-reply\]|abwesenheitsnotiz|abwesend|automatische antwort|` +
	`absence|absent|réponse automatique|reponse automatique|respuesta autom[aá]tica|` +
	`fuera de (?:la )?oficina|risposta automatica|fuori (?:sede|ufficio)|afwezig|` +
	`automatisch antwoord|resposta autom[aá]tica|autosvar|automaattinen vastaus|` +
	`odpowied[zź] automatyczna|автоответ|自動応答|自动回复|自動回覆)`)

// replyPrefixRe strips leading reply/forward markers before matching.
var replyPrefixRe = regexp.MustCompile(`(?i)^\s*(?:(?:re|aw|sv|vs|antw|r|rif|wg|fw|fwd|tr)\s*(?:\[\d+\])?\s*:\s*)+`)

// noreplyLocals are From local parts that identify robots.
var noreplyLocals = map[string]bool{
	"noreply": true, "no-reply": true, "no_reply": true, "donotreply": true,
	"do-not-reply": true, "do_not_reply": true, "mailer-daemon": true, "postmaster": true,
}

// Classify decides the kind of m. envelopeFrom is the SMTP MAIL FROM
// (Return-Path) as received, "" or "<>" meaning the null sender; ourDomain
// is the forum's own mail domain, used to detect loops via X-Loop ("" to
// skip that check). A bounce (see ParseDSN) wins over every automatic
// signal; X-Auto-Response-Suppress alone does not make mail automatic.
func Classify(m *parse.Message, envelopeFrom string, ourDomain string) Verdict {
	if m == nil {
		return Verdict{Kind: Auto, Reason: "no message"}
	}
	if d, ok := ParseDSN(m); ok {
		if len(m.DeliveryStatus) > 0 || len(d.Recipients) > 0 {
			return Verdict{Kind: Bounce, Reason: "dsn"}
		}
		return Verdict{Kind: Bounce, Reason: "bounce: non-standard"}
	}
	h := &m.Header
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" {
		if v, _, _ = strings.Cut(v, ";"); strings.TrimSpace(v) != "no" {
			return Verdict{Kind: Auto, Reason: "auto-submitted: " + strings.TrimSpace(v)}
		}
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"} {
		if h.Has(k) {
			return Verdict{Kind: Auto, Reason: strings.ToLower(k)}
		}
	}
	switch p := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); p {
	case "bulk", "junk", "list", "auto_reply", "auto-reply":
		return Verdict{Kind: Auto, Reason: "precedence: " + p}
	}
	if mt, _, _ := h.ContentType(); strings.EqualFold(mt, "multipart/report") {
		return Verdict{Kind: Auto, Reason: "report"} // e.g. read receipts
	}
	if h.Has("List-Id") {
		return Verdict{Kind: Auto, Reason: "list-id"}
	}
	if h.Has("List-Unsubscribe") {
		return Verdict{Kind: Auto, Reason: "list-unsubscribe"}
	}
	if env := strings.TrimSpace(envelopeFrom); env == "" || env == "<>" {
		return Verdict{Kind: Auto, Reason: "empty envelope sender"}
	}
	if d := strings.ToLower(strings.TrimSpace(ourDomain)); d != "" {
		for _, v := range h.Values("X-Loop") {
			if strings.Contains(strings.ToLower(v), d) {
				return Verdict{Kind: Auto, Reason: "x-loop"}
			}
		}
	}
	if isAutoSubject(m.Subject) {
		return Verdict{Kind: Auto, Reason: "out-of-office subject"}
	}
	if robotSender(m) {
		return Verdict{Kind: Auto, Reason: "noreply sender"}
	}
	return Verdict{Kind: Human}
}

func isAutoSubject(s string) bool {
	return oooSubjectRe.MatchString(replyPrefixRe.ReplaceAllString(s, ""))
}

// robotSender reports a From whose local part names a robot. A From that
// did not parse is inspected as raw text, so "MAILER-DAEMON (Mail Delivery
// System)" counts too.
func robotSender(m *parse.Message) bool {
	if m.HasFrom {
		local, _, _ := strings.Cut(m.From.Addr, "@")
		return isRobotLocal(local)
	}
	raw := strings.ToLower(m.Header.Get("From"))
	for _, w := range strings.FieldsFunc(raw, func(r rune) bool {
		return r == ' ' || r == '<' || r == '>' || r == '(' || r == ')' || r == '"' || r == ',' || r == '@'
	}) {
		if isRobotLocal(w) {
			return true
		}
	}
	return false
}

func isRobotLocal(local string) bool {
	l := strings.ToLower(strings.Trim(local, "\"' "))
	if noreplyLocals[l] {
		return true
	}
	// Sub-addressed and decorated forms: noreply+abc, no-reply-billing.
	for p := range noreplyLocals {
		if strings.HasPrefix(l, p+"+") || strings.HasPrefix(l, p+"-") || strings.HasPrefix(l, p+".") {
			return true
		}
	}
	return false
}
