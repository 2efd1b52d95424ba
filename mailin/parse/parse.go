// Package parse turns raw RFC 5322 mail, as sent by real-world clients, into
// a Message: decoded addresses, threading ids, subject, UTF-8 text and HTML
// bodies, attachments and bounce-report sections.
//
// It wraps github.com/emersion/go-message defensively. The header block is
// cleaned before go-message sees it (mbox "From " lines, leading blank
// lines, malformed or unfolded lines, 8-bit bytes), MIME bodies are split
// tolerantly (a truncated multipart keeps the parts read so far), transfer
// encodings are decoded leniently and every charset known to
// golang.org/x/text, plus UTF-7, is converted to UTF-8 with fallbacks for
// mislabelled text. Parse never panics; problems it worked around are
// reported in Message.Warnings.
package parse

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
)

// Address is a parsed mailbox.
type Address struct {
	// Name is the decoded display name, "" if none.
	Name string
	// Addr is the address with its domain lower-cased and its local part
	// as given.
	Addr string
}

// Attachment is a non-body MIME part: a file, an inline image referenced
// by cid, an attached message (message/rfc822) and so on.
type Attachment struct {
	// Filename is the decoded file name without any directory part; it may
	// be "" when the sender gave none (attached messages get "message.eml").
	Filename string
	// ContentType is the lower-cased media type, e.g. "image/png".
	ContentType string
	// ContentID is the Content-ID without angle brackets, "" if none.
	ContentID string
	// Inline reports a part meant to be shown inline (disposition inline,
	// or a Content-ID without any disposition).
	Inline bool
	// Data is the transfer-decoded content (no charset conversion).
	Data []byte
}

// Limits bounds the work Parse does on hostile input. Zero fields take
// their defaults.
type Limits struct {
	// MaxHeaderBytes bounds each header block; fields beyond it are
	// ignored with a warning. Default 1 MiB.
	MaxHeaderBytes int
	// MaxParts bounds the number of MIME parts visited. Default 500.
	MaxParts int
	// MaxDepth bounds multipart nesting; deeper parts are skipped with a
	// warning. Default 50, values above 1000 are lowered to 1000.
	MaxDepth int
	// MaxPartBytes truncates each decoded part to this many bytes, with a
	// warning. Zero means no limit.
	MaxPartBytes int64
}

const (
	defaultMaxHeaderBytes = 1 << 20
	defaultMaxParts       = 500
	defaultMaxDepth       = 50
	hardMaxDepth          = 1000
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = defaultMaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxDepth > hardMaxDepth {
		l.MaxDepth = hardMaxDepth
	}
	return l
}

// Message is the parsed form of one email.
type Message struct {
	// MessageID is the Message-ID without angle brackets. When the header
	// is missing or empty it is synthesised from the SHA-256 of the raw
	// bytes as "sha256-<32 hex digits>@postern.invalid" and Synthesized is
	// set; the same bytes always give the same id.
	MessageID   string
	Synthesized bool
	// InReplyTo and References hold message ids without angle brackets,
	// in header order, without duplicates. Missing brackets are tolerated.
	InReplyTo  []string
	References []string
	// From is the first From address; HasFrom reports whether one was
	// found (possibly recovered from a malformed field, see Warnings).
	From    Address
	HasFrom bool
	ReplyTo []Address
	To      []Address
	Cc      []Address
	// Subject is RFC 2047 decoded on one line; malformed encoded words are
	// kept as they are; NUL and control characters are removed.
	Subject string
	// Date is the Date header, zero when missing or unparseable.
	Date time.Time
	// Header is the cleaned top-level header, for any other lookup.
	Header mail.Header
	// Text is the text/plain body in UTF-8 with LF line ends, "" if none.
	Text string
	// HTML is the text/html body in UTF-8, "" if none.
	HTML string
	// Attachments are the non-body parts in message order.
	Attachments []Attachment
	// DeliveryStatus is the raw content of a message/delivery-status part
	// (bounce reports), nil if none.
	DeliveryStatus []byte
	// ReportedHeaders is the header of the returned original message in a
	// delivery report (text/rfc822-headers or message/rfc822 in a
	// multipart/report); its zero value has no fields.
	ReportedHeaders mail.Header
	// PartsDropped reports that MIME parts were not read because the
	// message is nested deeper than Limits.MaxDepth or has more than
	// Limits.MaxParts parts: its Text, HTML and Attachments are then
	// incomplete (Warnings says which limit).
	PartsDropped bool
	// Warnings lists the irregularities that were worked around.
	Warnings []string
}

// ErrEmpty is returned (wrapped) by Parse when the input holds no usable
// header field and no body.
var ErrEmpty = errors.New("parse: no usable message content")

// Parse parses raw mail. It returns an error only when nothing usable can
// be extracted (empty or blank input); otherwise it returns a best-effort
// Message whose Warnings describe what was repaired or dropped. Parse never
// panics and bounds its work with lim (see Limits for defaults).
func Parse(raw []byte, lim Limits) (msg *Message, err error) {
	defer func() {
		// Defence in depth: a bug must not take the mail pipeline down.
		if r := recover(); r != nil {
			msg, err = nil, errors.New("parse: internal error while parsing message")
		}
	}()
	lim = lim.withDefaults()
	hr := readHeader(raw, true, lim.MaxHeaderBytes)
	if len(hr.fields) == 0 && len(strings.TrimSpace(string(hr.body))) == 0 {
		return nil, fmt.Errorf("parse %d-byte message: %w", len(raw), ErrEmpty)
	}
	p := &parser{lim: lim, msg: &Message{}}
	m := p.msg
	m.Warnings = append(m.Warnings, hr.warnings...)
	m.Header = buildHeader(hr.fields)
	p.envelope(raw)
	top := p.newEntity(m.Header, hr.body)
	p.walk(top, 0, "")
	m.Warnings = dedupe(m.Warnings)
	return m, nil
}

// envelope fills the header-derived fields of the message.
func (p *parser) envelope(raw []byte) {
	m := p.msg
	h := &m.Header
	m.MessageID = firstMsgID(h.Get("Message-Id"))
	if m.MessageID == "" {
		sum := sha256.Sum256(raw)
		m.MessageID = "sha256-" + hex.EncodeToString(sum[:16]) + "@postern.invalid"
		m.Synthesized = true
	}
	m.InReplyTo = parseMsgIDs(h.Values("In-Reply-To"), map[string]bool{}, nil)
	m.References = parseMsgIDs(h.Values("References"), map[string]bool{}, nil)

	if from := h.Get("From"); from != "" {
		list, lenient := parseAddressList(from)
		if len(list) > 0 {
			m.From, m.HasFrom = list[0], true
		}
		if lenient {
			p.warn("From header malformed; address recovered heuristically")
		}
	}
	m.ReplyTo = p.addrList(h, "Reply-To")
	m.To = p.addrList(h, "To")
	m.Cc = p.addrList(h, "Cc")
	m.Subject = headerText(h.Get("Subject"))
	if d := h.Get("Date"); d != "" {
		t, ok := parseDate(d)
		if !ok {
			p.warn("unparseable Date header")
		}
		m.Date = t
	}
}

// addrList parses every occurrence of an address-list field.
func (p *parser) addrList(h *mail.Header, key string) []Address {
	var out []Address
	for _, v := range h.Values(key) {
		list, lenient := parseAddressList(v)
		if lenient {
			p.warn(key + " header malformed; addresses recovered heuristically")
		}
		out = append(out, list...)
	}
	return out
}

// firstMsgID extracts the first message id of a Message-ID field.
func firstMsgID(v string) string {
	ids := parseMsgIDs([]string{v}, map[string]bool{}, nil)
	if len(ids) > 0 {
		return ids[0]
	}
	v = strings.TrimSpace(v)
	if f := strings.Fields(v); len(f) > 0 {
		return strings.Trim(stripControls(f[0]), "<>")
	}
	return ""
}

func dedupe(ws []string) []string {
	if len(ws) < 2 {
		return ws
	}
	seen := make(map[string]bool, len(ws))
	out := ws[:0]
	for _, w := range ws {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}
