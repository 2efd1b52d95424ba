package classify

import "github.com/postern/postern/mailin/parse"

// envelope stands in for the SMTP MAIL FROM the fixtures do not carry:
// the Return-Path header when present, else the From address.
func envelope(m *parse.Message) string {
	if rp := m.Header.Get("Return-Path"); rp != "" {
		return rp
	}
	if m.HasFrom {
		return m.From.Addr
	}
	return "unknown@example.invalid"
}
