package mailout

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads/mailkind"
)

const forumDomain = "forum.example.org"

// testOutgoing renders a real "answer" notification and wraps it the way
// the worker will.
func testOutgoing(t *testing.T) *Outgoing {
	t.Helper()
	set, err := templates.New()
	if err != nil {
		t.Fatalf("templates.New: %v", err)
	}
	subject, text, html, err := set.Mail(mailkind.Answer, templates.MailData{
		ForumName:      "Gärdeners",
		PosterName:     "Ännä Poster",
		RecipientName:  "Bøb",
		QuestionTitle:  "Why do my tomatoes split? A very long title that goes on and on to exercise folding of the encoded subject",
		PostKind:       "answer",
		Body:           "Water evenly.\n<script>alert(1)</script>\n\n" + strings.Repeat("x", 3000),
		ParentExcerpt:  "My tomatoes split.",
		ThreadURL:      "https://" + forumDomain + "/q/42",
		ReplyAbove:     true,
		UnsubscribeURL: "https://" + forumDomain + "/u/TOKEN",
	})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var refs []string
	for i := 0; i < 40; i++ {
		refs = append(refs, fmt.Sprintf("post.%d.abcdef@%s", i, forumDomain))
	}
	return &Outgoing{
		To:                mail.Address{Name: "Bøb Recipient", Address: "bob@recipient.example"},
		FromName:          "Ännä Poster via Gärdeners",
		FromAddr:          "notifications@" + forumDomain,
		ReplyTo:           "reply+TOKEN123@" + forumDomain,
		MessageID:         "answer.7.xyz@" + forumDomain,
		InReplyTo:         refs[len(refs)-1],
		References:        refs,
		Subject:           subject,
		Text:              text,
		HTML:              html,
		ListID:            "Gärdeners <gardeners." + forumDomain + ">",
		UnsubscribeURL:    "https://" + forumDomain + "/u/TOKEN",
		UnsubscribeMailto: "unsubscribe+TOKEN@" + forumDomain,
		Date:              time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600)),
		Extra:             map[string]string{"X-Postern-Kind": "answer"},
	}
}

func TestComposeRoundTrip(t *testing.T) {
	o := testOutgoing(t)
	raw, err := Compose(o)
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	checkWire(t, raw)

	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := r.Header

	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != o.FromName || from[0].Address != o.FromAddr {
		t.Errorf("From = %v, %v", from, err)
	}
	if raw := h.Get("From"); !strings.Contains(raw, "=?utf-8?") {
		t.Errorf("From display name not RFC 2047-encoded: %q", raw)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != o.To.Name || to[0].Address != o.To.Address {
		t.Errorf("To = %v, %v", to, err)
	}
	rt, err := h.AddressList("Reply-To")
	if err != nil || len(rt) != 1 || rt[0].Address != o.ReplyTo {
		t.Errorf("Reply-To = %v, %v", rt, err)
	}
	if subj, err := h.Subject(); err != nil || subj != o.Subject {
		t.Errorf("Subject = %q, %v; want %q", subj, err, o.Subject)
	}
	if !strings.HasPrefix(o.Subject, "Re: [Gärdeners] ") {
		t.Errorf("rendered subject = %q", o.Subject)
	}
	if d, err := h.Date(); err != nil || !d.Equal(o.Date) {
		t.Errorf("Date = %v, %v", d, err)
	}
	if id, err := h.MessageID(); err != nil || id != o.MessageID {
		t.Errorf("Message-ID = %q, %v", id, err)
	}
	if ids, err := h.MsgIDList("In-Reply-To"); err != nil || len(ids) != 1 || ids[0] != o.InReplyTo {
		t.Errorf("In-Reply-To = %v, %v", ids, err)
	}
	if ids, err := h.MsgIDList("References"); err != nil || strings.Join(ids, " ") != strings.Join(o.References, " ") {
		t.Errorf("References = %v, %v", ids, err)
	}
	want := map[string]string{
		"MIME-Version":             "1.0",
		"Auto-Submitted":           "auto-generated",
		"X-Auto-Response-Suppress": "All",
		"List-Unsubscribe":         "<https://" + forumDomain + "/u/TOKEN>, <mailto:unsubscribe+TOKEN@" + forumDomain + ">",
		"List-Unsubscribe-Post":    "List-Unsubscribe=One-Click",
		"X-Postern-Kind":           "answer",
		"Precedence":               "",
		"Cc":                       "",
		"Bcc":                      "",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got, err := h.Text("List-Id"); err != nil || got != o.ListID {
		t.Errorf("List-Id = %q, %v", got, err)
	}
	if mt, _, _ := h.ContentType(); mt != "multipart/alternative" {
		t.Errorf("Content-Type = %q", mt)
	}
	if !bytes.HasPrefix(raw, []byte("Date: ")) {
		t.Errorf("message does not start with Date: %q", raw[:20])
	}

	for i, wantPart := range []struct{ ctype, body string }{
		{"text/plain", o.Text},
		{"text/html", o.HTML},
	} {
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		ih, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			t.Fatalf("part %d is %T, not inline", i, p.Header)
		}
		mt, params, _ := ih.ContentType()
		if mt != wantPart.ctype || strings.ToLower(params["charset"]) != "utf-8" {
			t.Errorf("part %d Content-Type = %q %v", i, mt, params)
		}
		if cte := ih.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part %d Content-Transfer-Encoding = %q", i, cte)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("part %d body: %v", i, err)
		}
		if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != wantPart.body {
			t.Errorf("part %d body differs:\n got %q\nwant %q", i, got[:min(200, len(got))], wantPart.body[:min(200, len(wantPart.body))])
		}
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Errorf("third part: %v, want EOF", err)
	}
	checkOnlyRecipient(t, raw, o.To.Address)
}

func TestComposeTextOnly(t *testing.T) {
	o := testOutgoing(t)
	o.HTML = ""
	o.UnsubscribeURL = ""
	o.UnsubscribeMailto = ""
	o.Subject = "[F] Title"
	raw, err := Compose(o)
	if err != nil {
		t.Fatal(err)
	}
	checkWire(t, raw)
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if mt, _, _ := r.Header.ContentType(); mt != "text/plain" {
		t.Errorf("Content-Type = %q", mt)
	}
	for _, k := range []string{"List-Unsubscribe", "List-Unsubscribe-Post"} {
		if r.Header.Has(k) {
			t.Errorf("%s present without unsubscribe URIs", k)
		}
	}
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(p.Body)
	if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != o.Text {
		t.Errorf("text body differs")
	}
}

// checkWire asserts CRLF line endings and the RFC 5322 line length limit.
func checkWire(t *testing.T, raw []byte) {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Errorf("message does not end in CRLF")
	}
	lines := bytes.Split(raw, []byte("\r\n"))
	for i, l := range lines {
		if bytes.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i, l)
		}
		if len(l) > 998 {
			t.Errorf("line %d is %d bytes long", i, len(l))
		}
		if len(l) > 78 && i < headerEnd(lines) {
			t.Errorf("header line %d is %d bytes long: %q", i, len(l), l)
		}
	}
}

func headerEnd(lines [][]byte) int {
	for i, l := range lines {
		if len(l) == 0 {
			return i
		}
	}
	return len(lines)
}

var addrRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// checkOnlyRecipient asserts that the only address in raw, decoded or not,
// that is not the forum's own is the recipient's.
func checkOnlyRecipient(t *testing.T, raw []byte, rcpt string) {
	t.Helper()
	texts := []string{string(raw)}
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	fields := r.Header.Fields()
	for fields.Next() {
		v, _ := fields.Text()
		texts = append(texts, v)
	}
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p.Body)
		texts = append(texts, string(b))
	}
	for _, s := range texts {
		for _, a := range addrRE.FindAllString(s, -1) {
			if a != rcpt && !strings.HasSuffix(a, "@"+forumDomain) {
				t.Errorf("message contains an address other than the recipient's")
			}
		}
	}
}

func TestComposeRejects(t *testing.T) {
	cases := map[string]func(o *Outgoing){
		"no recipient":       func(o *Outgoing) { o.To.Address = "" },
		"recipient list":     func(o *Outgoing) { o.To.Address = "a@x.example, b@y.example" },
		"recipient CRLF":     func(o *Outgoing) { o.To.Address = "a@x.example\r\nBcc: c@z.example" },
		"reply-to CRLF":      func(o *Outgoing) { o.ReplyTo = "r@x.example\nBcc: c@z.example" },
		"no from":            func(o *Outgoing) { o.FromAddr = "" },
		"no message id":      func(o *Outgoing) { o.MessageID = "" },
		"bracketed id":       func(o *Outgoing) { o.MessageID = "<a@b>" },
		"reference space":    func(o *Outgoing) { o.References = []string{"a@b c@d"} },
		"no text":            func(o *Outgoing) { o.Text = " \n" },
		"extra Bcc":          func(o *Outgoing) { o.Extra = map[string]string{"bcc": "c@z.example"} },
		"extra To":           func(o *Outgoing) { o.Extra = map[string]string{"TO": "c@z.example"} },
		"extra bad name":     func(o *Outgoing) { o.Extra = map[string]string{"X-A: b": "c"} },
		"extra CRLF":         func(o *Outgoing) { o.Extra = map[string]string{"X-A": "b\r\nBcc: c@z.example"} },
		"ftp unsubscribe":    func(o *Outgoing) { o.UnsubscribeURL = "ftp://x.example/u" },
		"unsubscribe angle":  func(o *Outgoing) { o.UnsubscribeURL = "https://x.example/u>, <https://evil.example" },
		"invalid utf-8 body": func(o *Outgoing) { o.Text = "a\xffb" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			o := testOutgoing(t)
			mutate(o)
			_, err := Compose(o)
			if err == nil {
				t.Fatal("Compose accepted it")
			}
			if strings.Contains(err.Error(), "@") {
				t.Errorf("error reveals an address: %v", err)
			}
		})
	}
	if _, err := Compose(nil); err == nil {
		t.Error("Compose(nil) accepted")
	}
}

func TestEncodeListID(t *testing.T) {
	for in, want := range map[string]string{
		"Gardeners <forum.example.org>":       "Gardeners <forum.example.org>",
		"Q&A: Cats, Dogs <forum.example.org>": `"Q&A: Cats, Dogs" <forum.example.org>`,
		"<forum.example.org>":                 "<forum.example.org>",
		"Gärdeners <forum.example.org>":       "=?utf-8?q?G=C3=A4rdeners?= <forum.example.org>",
	} {
		if got := encodeListID(in); got != want {
			t.Errorf("encodeListID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestComposeLongNonASCIINames(t *testing.T) {
	o := testOutgoing(t)
	o.FromName = strings.Repeat("Zoë Ångström-Łukasiewicz ", 6) + "via Gärdeners"
	o.To.Name = strings.Repeat("Ñandú ", 20)
	raw, err := Compose(o)
	if err != nil {
		t.Fatal(err)
	}
	checkWire(t, raw)
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	from, err := r.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != o.FromName || from[0].Address != o.FromAddr {
		t.Errorf("From = %v, %v", from, err)
	}
	to, err := r.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != strings.TrimSpace(o.To.Name) || to[0].Address != o.To.Address {
		t.Errorf("To = %v, %v", to, err)
	}
}

func TestComposeSanitisesNames(t *testing.T) {
	o := testOutgoing(t)
	o.FromName = "Evil\r\nBcc: victim@other.example"
	o.To.Name = "Bob\nCc: x"
	o.Subject = "Hi\r\nBcc: victim@other.example"
	raw, err := Compose(o)
	if err != nil {
		t.Fatal(err)
	}
	checkWire(t, raw)
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Bcc", "Cc"} {
		if r.Header.Has(k) {
			t.Errorf("header injection produced %s", k)
		}
	}
	from, err := r.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != o.FromAddr {
		t.Errorf("From = %v, %v", from, err)
	}
}
