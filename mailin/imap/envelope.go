package imap

import (
	"bytes"
	"net/mail"
	"strings"

	"github.com/postern/postern/threads"
)

// A message read from a mailbox has no SMTP envelope: the provider that
// received it wrote what it had in headers, each in its own place.

// recipientHeaders are where a forum recipient is looked for, in order:
// the first header naming an address of the forum's domain wins.
var recipientHeaders = [][]string{{"Delivered-To"}, {"X-Original-To"}, {"To", "Cc"}}

// envelopeOf returns the envelope of raw for a forum on domain: the
// recipient is the first address of the forum's domain found in
// Delivered-To, else X-Original-To, else To and Cc (one recipient, as an
// SMTP transaction of Postern carries one action); the sender is the
// Return-Path ("<>": the null sender), else the first From address. ok
// is false when no forum recipient is found or the header does not
// parse.
func envelopeOf(raw []byte, domain string) (env threads.Envelope, ok bool) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return threads.Envelope{}, false
	}
	h := msg.Header
	rcpt := ""
	for _, names := range recipientHeaders {
		if rcpt = forumAddress(h, names, domain); rcpt != "" {
			break
		}
	}
	if rcpt == "" {
		return threads.Envelope{}, false
	}
	return threads.Envelope{MailFrom: sender(h), Rcpt: []string{rcpt}, Source: threads.SourceIMAP}, true
}

// forumAddress returns the first address of domain in the headers names
// of h, "" when there is none.
func forumAddress(h mail.Header, names []string, domain string) string {
	for _, name := range names {
		for _, v := range h[name] {
			for _, a := range addresses(v) {
				if at := strings.LastIndexByte(a, '@'); at > 0 && strings.EqualFold(a[at+1:], domain) {
					return a
				}
			}
		}
	}
	return ""
}

// addresses returns the addresses of a header value: an address list,
// or else a bare address (Delivered-To is often one without brackets).
func addresses(v string) []string {
	if list, err := mail.ParseAddressList(v); err == nil {
		out := make([]string, len(list))
		for i, a := range list {
			out[i] = a.Address
		}
		return out
	}
	a := strings.Trim(strings.TrimSpace(v), "<>")
	if a == "" || strings.ContainsAny(a, " \t,<>") {
		return nil
	}
	return []string{a}
}

// sender returns the envelope sender: the first Return-Path (the one the
// delivering server wrote last), else the first From address, else ""
// (the null sender).
func sender(h mail.Header) string {
	if rp := h["Return-Path"]; len(rp) > 0 {
		v := strings.TrimSpace(rp[0])
		if v == "<>" || v == "" {
			return ""
		}
		if as := addresses(v); len(as) > 0 {
			return as[0]
		}
	}
	if as := addresses(h.Get("From")); len(as) > 0 {
		return as[0]
	}
	return ""
}

// messageID is the Message-ID of raw without its angle brackets, "" when
// raw is nil or its header does not parse.
func messageID(raw []byte) string {
	if raw == nil {
		return ""
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(msg.Header.Get("Message-ID")), "<>")
}
