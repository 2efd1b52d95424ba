// Package mailout turns a rendered notification into a MIME message and
// delivers it: Compose builds the bytes of one message for one recipient,
// and a Sender (the SMTP relay client Relay, or the Maildir writer used in
// development and tests) hands them on.
//
// Every message goes to exactly one recipient, so no person's address is
// ever shown to another. Errors returned by this package never contain an
// email address, so callers may log them.
package mailout

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Outgoing is one notification ready to be composed. String fields must
// not contain line breaks unless stated otherwise; identifiers are given
// without angle brackets.
type Outgoing struct {
	// To is the single recipient (never a list). Addr is required; Name is
	// the recipient's display name and may be empty.
	To mail.Address
	// FromName is the From display name, e.g. "Ann via Gardeners". Line
	// breaks and control characters in it are replaced by spaces.
	FromName string
	// FromAddr is the From address, e.g. notifications@DOMAIN. Required.
	FromAddr string
	// ReplyTo is the address replies go to, e.g. reply+TOKEN@DOMAIN;
	// empty leaves the header out.
	ReplyTo string
	// MessageID is this message's identifier, without <>. Required.
	MessageID string
	// InReplyTo is the identifier of the message this one answers.
	InReplyTo string
	// References is the thread's identifier chain, oldest first.
	References []string
	// Subject is the subject; runs of white space (including line breaks)
	// are collapsed to one space.
	Subject string
	// Text is the text/plain body. Required. Line breaks may be LF or CRLF.
	Text string
	// HTML is the text/html alternative; empty sends text/plain only.
	HTML string
	// ListID is the List-Id value, e.g. "Gardeners <gardeners.example.org>";
	// a non-ASCII phrase before <...> is RFC 2047-encoded.
	ListID string
	// UnsubscribeURL is the unsubscribe web address; with https it is
	// also announced as RFC 8058 one-click (List-Unsubscribe-Post).
	UnsubscribeURL string
	// UnsubscribeMailto is the mailto: unsubscribe URI ("mailto:" is
	// added when missing).
	UnsubscribeMailto string
	// Date is the message date; the zero time means now.
	Date time.Time
	// Extra holds additional header fields. A field that Compose sets
	// itself (From, To, Subject, List-*, ...) is refused.
	Extra map[string]string
}

// reservedHeaders are the fields Compose writes; Extra may not set them, so
// that no caller can add a second recipient or break threading.
var reservedHeaders = map[string]bool{
	"From": true, "To": true, "Cc": true, "Bcc": true, "Sender": true,
	"Reply-To": true, "Subject": true, "Date": true, "Message-Id": true,
	"In-Reply-To": true, "References": true, "Mime-Version": true,
	"Content-Type": true, "Content-Transfer-Encoding": true,
	"Content-Disposition": true, "Auto-Submitted": true,
	"X-Auto-Response-Suppress": true, "List-Id": true,
	"List-Unsubscribe": true, "List-Unsubscribe-Post": true,
	"Resent-To": true, "Resent-Cc": true, "Resent-Bcc": true, "Return-Path": true,
}

// Compose builds the complete message for o: the header fields, then a
// multipart/alternative body with a text/plain part (UTF-8,
// quoted-printable) followed by a text/html part, or a single text/plain
// part when o.HTML is empty. Lines end in CRLF and none exceeds 998 bytes.
// Invalid input is an error whose text contains no address.
func Compose(o *Outgoing) ([]byte, error) {
	if o == nil {
		return nil, errors.New("compose: nil message")
	}
	if err := validate(o); err != nil {
		return nil, err
	}
	fields := headerFields(o)
	fields = append(fields, field{"MIME-Version", "1.0"})

	var buf bytes.Buffer
	// Headers, boundaries and quoted-printable's soft line breaks and
	// escapes (HTML's "=" and non-ASCII text grow most): one allocation
	// for most mail, not a regrowth and copy.
	buf.Grow(4096 + len(o.Text) + len(o.HTML) + (len(o.Text)+len(o.HTML))/4)
	text := toLF(o.Text)
	if o.HTML == "" {
		fields = append(fields,
			field{"Content-Type", mime.FormatMediaType("text/plain", map[string]string{"charset": "utf-8"})},
			field{"Content-Transfer-Encoding", "quoted-printable"})
		w, err := message.CreateWriter(&buf, buildHeader(fields))
		if err != nil {
			return nil, fmt.Errorf("compose: start message: %w", err)
		}
		if err := writeClose(w, text); err != nil {
			return nil, fmt.Errorf("compose: write text part: %w", err)
		}
		return buf.Bytes(), nil
	}

	boundary, err := newBoundary()
	if err != nil {
		return nil, err
	}
	fields = append(fields, field{"Content-Type",
		mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary})})
	mw, err := message.CreateWriter(&buf, buildHeader(fields))
	if err != nil {
		return nil, fmt.Errorf("compose: start message: %w", err)
	}
	for _, p := range []struct{ ctype, body string }{
		{"text/plain", text},
		{"text/html", toLF(o.HTML)},
	} {
		ph := buildHeader([]field{
			{"Content-Type", mime.FormatMediaType(p.ctype, map[string]string{"charset": "utf-8"})},
			{"Content-Transfer-Encoding", "quoted-printable"},
		})
		pw, err := mw.CreatePart(ph)
		if err != nil {
			return nil, fmt.Errorf("compose: start %s part: %w", p.ctype, err)
		}
		if err := writeClose(pw, p.body); err != nil {
			return nil, fmt.Errorf("compose: write %s part: %w", p.ctype, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("compose: finish message: %w", err)
	}
	return buf.Bytes(), nil
}

// field is one header field, value already encoded for the wire but not
// folded (the go-message header writer folds at white space).
type field struct{ key, value string }

// buildHeader makes a go-message header that writes fields in the given
// order. (The writer emits the most recently added field first, so fields
// are added back to front.)
func buildHeader(fields []field) message.Header {
	var h message.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].key, fields[i].value)
	}
	return h
}

// newBoundary returns a random multipart boundary.
func newBoundary() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("compose: make boundary: %w", err)
	}
	return "postern-" + hex.EncodeToString(b[:]), nil
}

// headerFields lists the top-level fields of o, which validate accepted,
// in the order they are written.
func headerFields(o *Outgoing) []field {
	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}
	fs := []field{
		{"Date", date.Format(dateLayout)},
		{"From", formatAddress(o.FromName, o.FromAddr)},
		{"To", formatAddress(o.To.Name, o.To.Address)},
	}
	if o.ReplyTo != "" {
		fs = append(fs, field{"Reply-To", (&mail.Address{Address: o.ReplyTo}).String()})
	}
	fs = append(fs,
		field{"Subject", encodeText(strings.Join(strings.Fields(o.Subject), " "))},
		field{"Message-ID", "<" + o.MessageID + ">"})
	if o.InReplyTo != "" {
		fs = append(fs, field{"In-Reply-To", "<" + o.InReplyTo + ">"})
	}
	if len(o.References) > 0 {
		// Space-separated: the header writer folds long lists at the spaces.
		fs = append(fs, field{"References", "<" + strings.Join(o.References, "> <") + ">"})
	}

	// Loop and auto-reply suppression. We send Auto-Submitted (RFC 3834),
	// which standards-following responders honour, and the Exchange/Outlook
	// X-Auto-Response-Suppress. We deliberately do not send "Precedence:
	// list" or "bulk": Precedence was never standardised (RFC 2076 calls
	// its use discouraged), and providers use it to file mail as bulk or
	// to lower its priority, while these are personal notifications.
	// Mailing-list handling by clients comes from the List-* fields.
	fs = append(fs,
		field{"Auto-Submitted", "auto-generated"},
		field{"X-Auto-Response-Suppress", "All"})
	if o.ListID != "" {
		fs = append(fs, field{"List-Id", encodeListID(o.ListID)})
	}
	var unsub []string
	if o.UnsubscribeURL != "" {
		unsub = append(unsub, "<"+o.UnsubscribeURL+">")
	}
	if o.UnsubscribeMailto != "" {
		m := o.UnsubscribeMailto
		if !strings.HasPrefix(strings.ToLower(m), "mailto:") {
			m = "mailto:" + m
		}
		unsub = append(unsub, "<"+m+">")
	}
	if len(unsub) > 0 {
		fs = append(fs, field{"List-Unsubscribe", strings.Join(unsub, ", ")})
	}
	if strings.HasPrefix(strings.ToLower(o.UnsubscribeURL), "https://") {
		// RFC 8058 one-click requires an https URI; a plain-http URL (a
		// development setup) is still listed, but not as one-click.
		fs = append(fs, field{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
	}
	keys := make([]string, 0, len(o.Extra))
	for k := range o.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fs = append(fs, field{k, encodeText(o.Extra[k])})
	}
	return fs
}

// dateLayout is the RFC 5322 date-time format.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// validate checks o's fields. Its errors name the field, never its value.
func validate(o *Outgoing) error {
	if err := checkAddr("recipient", o.To.Address, true); err != nil {
		return err
	}
	if err := checkAddr("From", o.FromAddr, true); err != nil {
		return err
	}
	if err := checkAddr("Reply-To", o.ReplyTo, false); err != nil {
		return err
	}
	if o.MessageID == "" {
		return errors.New("compose: Message-ID is required")
	}
	if err := checkMsgID("Message-ID", o.MessageID); err != nil {
		return err
	}
	if o.InReplyTo != "" {
		if err := checkMsgID("In-Reply-To", o.InReplyTo); err != nil {
			return err
		}
	}
	for i, r := range o.References {
		if err := checkMsgID(fmt.Sprintf("References[%d]", i), r); err != nil {
			return err
		}
	}
	if strings.TrimSpace(o.Text) == "" {
		return errors.New("compose: text body is required")
	}
	if !utf8.ValidString(o.Text) || !utf8.ValidString(o.HTML) || !utf8.ValidString(o.Subject) {
		return errors.New("compose: body or subject is not valid UTF-8")
	}
	for name, v := range map[string]string{
		"List-Id": o.ListID, "unsubscribe URL": o.UnsubscribeURL,
		"unsubscribe mailto": o.UnsubscribeMailto,
	} {
		if hasBreakOrCtl(v) || (name != "List-Id" && strings.ContainsAny(v, "<>")) {
			return fmt.Errorf("compose: %s contains a line break, control character or angle bracket", name)
		}
	}
	if u := strings.ToLower(o.UnsubscribeURL); u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return errors.New("compose: unsubscribe URL must be http or https")
	}
	for k, v := range o.Extra {
		if !validFieldName(k) {
			return errors.New("compose: extra header has an invalid field name")
		}
		if reservedHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
			return fmt.Errorf("compose: extra header %s is set by Compose itself", k)
		}
		if hasBreakOrCtl(v) || !utf8.ValidString(v) {
			return fmt.Errorf("compose: extra header %s has a line break or control character", k)
		}
	}
	return nil
}

// checkAddr rejects an address that could not be a single plain mailbox.
func checkAddr(what, addr string, required bool) error {
	if addr == "" {
		if required {
			return fmt.Errorf("compose: %s address is required", what)
		}
		return nil
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || hasBreakOrCtl(addr) ||
		strings.ContainsAny(addr, " \t<>,;\"()[]\\") || !utf8.ValidString(addr) {
		return fmt.Errorf("compose: %s address is not a plain mailbox", what)
	}
	return nil
}

// checkMsgID rejects an identifier that would not fit inside <...>.
func checkMsgID(what, id string) error {
	if id == "" || strings.ContainsAny(id, "<> \t") || hasBreakOrCtl(id) || !isASCII(id) {
		return fmt.Errorf("compose: %s is not a bare message identifier", what)
	}
	return nil
}

// encodeListID formats the phrase before the <list-id>: RFC 2047-encoded
// when non-ASCII, quoted when it holds specials.
func encodeListID(v string) string {
	i := strings.LastIndexByte(v, '<')
	if i < 0 {
		return v
	}
	phrase := strings.TrimSpace(v[:i])
	switch {
	case phrase == "":
		return v[i:]
	case !isASCII(phrase):
		return encodeWords(phrase) + " " + v[i:]
	case strings.ContainsAny(phrase, `()<>[]:;@\,."`) && !strings.HasPrefix(phrase, `"`):
		// A phrase with specials must be a quoted-string (RFC 5322).
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(phrase) + `" ` + v[i:]
	default:
		return phrase + " " + v[i:]
	}
}

// formatAddress formats one mailbox. A non-ASCII display name becomes
// short RFC 2047 encoded-words, so that the header writer can fold between
// them; an ASCII one is quoted as needed by net/mail.
func formatAddress(name, addr string) string {
	name = cleanPhrase(name)
	if isASCII(name) {
		return (&mail.Address{Name: name, Address: addr}).String()
	}
	return encodeWords(name) + " <" + addr + ">"
}

// encodeText encodes an unstructured header value (RFC 2047): ASCII text
// is kept as it is, anything else becomes short encoded-words.
func encodeText(s string) string {
	if isASCII(s) {
		return s
	}
	return encodeWords(s)
}

// maxWordText is the most encoded bytes put in one encoded-word. With the
// "=?utf-8?q?" and "?=" wrapping a word stays well under the 76-column
// fold point even after a long field name.
const maxWordText = 40

// encodeWords Q-encodes s (RFC 2047, in the restricted alphabet allowed in
// a phrase) as encoded-words separated by spaces. A word never splits a
// UTF-8 sequence, and white space between encoded-words is ignored by
// decoders, so the decoded text is exactly s.
func encodeWords(s string) string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, "=?utf-8?q?"+cur.String()+"?=")
			cur.Reset()
		}
	}
	for _, r := range s {
		var enc strings.Builder
		var b [utf8.UTFMax]byte
		n := utf8.EncodeRune(b[:], r)
		for _, c := range b[:n] {
			switch {
			case c == ' ':
				enc.WriteByte('_')
			case c < utf8.RuneSelf && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte("!*+-/", c) >= 0):
				enc.WriteByte(c)
			default:
				fmt.Fprintf(&enc, "=%02X", c)
			}
		}
		if cur.Len()+enc.Len() > maxWordText {
			flush()
		}
		cur.WriteString(enc.String())
	}
	flush()
	return strings.Join(out, " ")
}

// cleanPhrase makes a display name safe for a header: control characters
// and line breaks become spaces and runs of space collapse.
func cleanPhrase(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func hasBreakOrCtl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// validFieldName reports whether k is a legal header field name (RFC 5322
// printable ASCII without colon).
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// toLF normalises line breaks to LF; the quoted-printable writer then emits
// CRLF for each.
func toLF(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// writeClose writes s to w and closes w. The quoted-printable writer has
// no WriteString, so s goes through a small buffer rather than a copy of
// the whole body.
func writeClose(w io.WriteCloser, s string) error {
	var chunk [1024]byte
	for s != "" {
		n := copy(chunk[:], s)
		if _, err := w.Write(chunk[:n]); err != nil {
			_ = w.Close()
			return err
		}
		s = s[n:]
	}
	return w.Close()
}
