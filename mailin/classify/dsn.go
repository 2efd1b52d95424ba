package classify

import (
	"regexp"
	"strings"

	"github.com/postern/postern/mailin/parse"
)

// DSNRecipient is one per-recipient block of a delivery status
// notification. Addresses have their "rfc822;" type prefix removed.
type DSNRecipient struct {
	FinalRecipient    string
	OriginalRecipient string
	// Action is lower-cased: "failed", "delayed", "delivered", "relayed"
	// or "expanded" ("" when unknown).
	Action string
	// Status is the enhanced status code, e.g. "5.1.1" ("" when unknown).
	Status string
	// Diagnostic is the Diagnostic-Code text without its type prefix.
	Diagnostic string
}

// DSN is a parsed delivery status notification.
type DSN struct {
	Recipients []DSNRecipient
	// OriginalMessageID is the Message-ID (without <>) of the message that
	// bounced, taken from the returned headers, "" if unknown.
	OriginalMessageID string
}

// Hard reports a permanent failure: any recipient with a 5.x.x status
// whose action is "failed" (or not stated).
func (d DSN) Hard() bool {
	for _, r := range d.Recipients {
		if strings.HasPrefix(r.Status, "5.") && (r.Action == "" || r.Action == "failed") {
			return true
		}
	}
	return false
}

var (
	statusRe       = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	bounceSubjRe   = regexp.MustCompile(`(?i)(undeliver|undelivered|delivery status notification|delivery (?:has )?fail|mail delivery failed|returned mail|failure notice|failed delivery|non[- ]?deliver|nondeliverable|delivery failure|unzustellbar|non remis|mail system error|could not be delivered|message not delivered)`)
	finalRecipRe   = regexp.MustCompile(`(?im)^\s*final-recipient:\s*(?:[a-z0-9-]+\s*;)?\s*<?([^\s<>;]+@[^\s<>;]+)>?`)
	looseAddrRe    = regexp.MustCompile(`<?([A-Za-z0-9._%+'=/-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?`)
	smtpCodeLineRe = regexp.MustCompile(`\b([45])\d\d[ -]`)
)

// ParseDSN extracts a delivery status notification from m. It reads the
// RFC 3464 message/delivery-status part when there is one; otherwise it
// recognises non-standard bounces by content (a multipart/report of type
// delivery-status, or a mailer-daemon/postmaster sender with a bounce-like
// subject) and scrapes status codes and recipients from the text. ok is
// false when m is not a bounce. The DSN may have no recipients when the
// report names none.
func ParseDSN(m *parse.Message) (*DSN, bool) {
	if m == nil {
		return nil, false
	}
	d := &DSN{OriginalMessageID: originalID(m)}
	if len(m.DeliveryStatus) > 0 {
		if d.Recipients = parseStatusFields(string(m.DeliveryStatus)); len(d.Recipients) > 0 {
			return d, true
		}
	}
	if len(m.DeliveryStatus) == 0 && !isReport(m) && !(robotSender(m) && bounceSubjRe.MatchString(m.Subject)) {
		return nil, false
	}
	d.Recipients = scrapeText(m)
	return d, true
}

// isReport reports a top-level multipart/report of type delivery-status.
func isReport(m *parse.Message) bool {
	mt, params, _ := m.Header.ContentType()
	if !strings.EqualFold(mt, "multipart/report") {
		return false
	}
	rt := strings.ToLower(params["report-type"])
	return rt == "" || strings.Contains(rt, "delivery-status")
}

// originalID returns the Message-ID of the returned message.
func originalID(m *parse.Message) string {
	v := strings.TrimSpace(m.ReportedHeaders.Get("Message-Id"))
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	return strings.TrimSpace(v)
}

// parseStatusFields parses the field groups of a delivery-status body:
// groups are separated by blank lines; any group naming a recipient, an
// action or a status is a per-recipient group.
func parseStatusFields(body string) []DSNRecipient {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	var out []DSNRecipient
	for _, group := range strings.Split(body, "\n\n") {
		fields := map[string]string{}
		last := ""
		for _, line := range strings.Split(group, "\n") {
			if line == "" {
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && last != "" {
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			if _, dup := fields[last]; !dup {
				fields[last] = strings.TrimSpace(v)
			}
		}
		_, hasFinal := fields["final-recipient"]
		_, hasAction := fields["action"]
		_, hasStatus := fields["status"]
		if !hasFinal && !hasAction && !hasStatus {
			continue
		}
		r := DSNRecipient{
			FinalRecipient:    stripType(fields["final-recipient"]),
			OriginalRecipient: stripType(fields["original-recipient"]),
			Action:            strings.ToLower(strings.TrimSpace(fields["action"])),
			Diagnostic:        stripType(fields["diagnostic-code"]),
		}
		if s := statusRe.FindString(fields["status"]); s != "" {
			r.Status = s
		} else if s := statusRe.FindString(r.Diagnostic); s != "" {
			r.Status = s
		}
		if r.Action == "" && r.Status != "" {
			r.Action = actionFor(r.Status)
		}
		out = append(out, r)
	}
	return out
}

// stripType removes an "rfc822;"/"smtp;" style type prefix.
func stripType(v string) string {
	v = strings.TrimSpace(v)
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(t, " @<") {
		v = strings.TrimSpace(rest)
	}
	return strings.Trim(v, "<>")
}

func actionFor(status string) string {
	switch {
	case strings.HasPrefix(status, "5."):
		return "failed"
	case strings.HasPrefix(status, "4."):
		return "delayed"
	case strings.HasPrefix(status, "2."):
		return "delivered"
	}
	return ""
}

// scrapeText recovers recipients from a non-standard bounce: the
// X-Failed-Recipients header or "Final-Recipient:" lines give addresses,
// and the first enhanced status code (or SMTP reply code) in the text
// gives the status.
func scrapeText(m *parse.Message) []DSNRecipient {
	text := m.Text
	if text == "" && m.HTML != "" {
		text = m.HTML
	}
	status := statusRe.FindString(text)
	diag := ""
	if status == "" {
		if loc := smtpCodeLineRe.FindStringSubmatch(text); loc != nil {
			status = loc[1] + ".0.0"
		}
	}
	if status != "" {
		if i := strings.Index(text, status); i >= 0 {
			diag = lineAround(text, i)
		}
	}
	var addrs []string
	seen := map[string]bool{}
	add := func(a string) {
		a = strings.Trim(a, "<>.,;")
		if a != "" && !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			addrs = append(addrs, a)
		}
	}
	for _, v := range m.Header.Values("X-Failed-Recipients") {
		for _, a := range strings.Split(v, ",") {
			add(strings.TrimSpace(a))
		}
	}
	for _, mm := range finalRecipRe.FindAllStringSubmatch(text, 20) {
		add(mm[1])
	}
	if len(addrs) == 0 && diag != "" {
		if mm := looseAddrRe.FindStringSubmatch(diag); mm != nil {
			add(mm[1])
		}
	}
	if len(addrs) == 0 {
		if status == "" {
			return nil
		}
		return []DSNRecipient{{Status: status, Action: actionFor(status), Diagnostic: diag}}
	}
	out := make([]DSNRecipient, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, DSNRecipient{FinalRecipient: a, Status: status, Action: actionFor(status), Diagnostic: diag})
	}
	return out
}

// lineAround returns the trimmed line of text containing index i.
func lineAround(text string, i int) string {
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += i
	}
	line := strings.TrimSpace(text[start:end])
	if len(line) > 300 {
		line = line[:300]
	}
	return line
}
