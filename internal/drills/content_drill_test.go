package drills

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtptest"
)

// hostileMessage is one message of the content drill: its name and its
// raw text (CRLF line ends, no lone dot lines).
type hostileMessage struct {
	name string
	raw  string
}

// hostileCorpus returns the drill's malicious messages, each from its own
// newcomer address (so each is answered by a confirmation request, which
// carries the message's subject and its From's name) to ask@.
func hostileCorpus() []hostileMessage {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	b64 := func(s string) string { return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }
	msg := func(i int, name, from, subject, extra, body string) hostileMessage {
		return hostileMessage{name: name, raw: crlf(fmt.Sprintf("From: %s <hostile%d@load.test>\nTo: ask@%s\nMessage-ID: <hostile-%d@load.test>\nSubject: %s\n%s\n", from, i, Domain, i, subject, extra)) + crlf(body)}
	}
	var nested strings.Builder
	for d := range 60 {
		fmt.Fprintf(&nested, "--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n", d, d+1)
	}
	nested.WriteString("--b60\nContent-Type: text/plain\n\ndeep inside\n")
	var parts strings.Builder
	for p := range 1000 {
		fmt.Fprintf(&parts, "--p\nContent-Type: text/plain\n\npart %d\n", p)
	}
	parts.WriteString("--p--\n")
	var headers strings.Builder
	for h := range 100_000 {
		fmt.Fprintf(&headers, "X-Filler-%d: x\n", h)
	}
	out := []hostileMessage{
		msg(1, "CRLF in an encoded subject", "Eve", "=?utf-8?q?Hello=0D=0AX-Injected:_yes=0D=0ABcc:_victim@evil.example?=", "", "A question.\n"),
		msg(2, "CRLF in an encoded name", b64("Eve\r\nBcc: victim@evil.example\r\nX-Injected: yes"), "Names", "", "A question.\n"),
		msg(3, "raw header after the subject", "Eve", "Hi", "X-Injected: yes\nBcc: victim@evil.example\n", "A question.\n"),
		msg(4, "markup in name and subject", b64(`<script>alert(1)</script>`), b64(`<img src=x onerror=alert(1)>`), "", "A question.\n"),
		msg(5, "invalid UTF-8", "Eve \xff\xfe", "Bad \xc3\x28 bytes \xed\xa0\x80", "", "Text \xff\xfe here.\n"),
		msg(6, "NUL bytes", "Eve", "Nul", "", "Before\x00after\x00.\n"),
		msg(7, "hostile HTML only", "Eve", "HTML", "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n",
			"<html><body><script>alert(1)</script><img src=x onerror=alert(1)><a href=\"javascript:alert(1)\">click</a><iframe src=//evil.example></iframe><svg onload=alert(1)></svg><p>Real text.</p></body></html>\n"),
		msg(8, "nested multipart bomb", "Eve", "Deep", "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b0\"\n", nested.String()),
		msg(9, "1,000 parts", "Eve", "Parts", "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"p\"\n", parts.String()),
		msg(10, "zip bomb", "Eve", "Zip", "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"z\"\n",
			"--z\nContent-Type: text/plain\n\nSee the file.\n--z\nContent-Type: application/zip; name=\"bomb.zip\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"bomb.zip\"\n\n"+zipBomb()+"\n--z--\n"),
		msg(11, "100,000 headers", "Eve", "Headers", headers.String(), "A question.\n"),
		msg(12, "a 10,000-character subject", "Eve", strings.Repeat("long ", 2000), "", "A question.\n"),
	}
	return out
}

// zipBomb is a base64 zip holding 64 MiB of zeros (about 64 KiB
// compressed), in 76-character lines.
func zipBomb() string {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	f, _ := z.Create("zeros.txt")
	zeros := make([]byte, 1<<20)
	for range 64 {
		_, _ = f.Write(zeros)
	}
	_ = z.Close()
	s := base64.StdEncoding.EncodeToString(b.Bytes())
	var lines strings.Builder
	for len(s) > 76 {
		lines.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	lines.WriteString(s)
	return lines.String()
}

// TestDrillHostileContent (drill 6, its corpus; the fuzz targets are
// `make fuzz`): every malicious message is stored and becomes a clean
// post (held for its sender's confirmation) or a specific refusal; none
// stays unprocessed, none panics the server; and no mail the forum sends
// carries an injected header, a second recipient, a CR or LF in a
// decoded header, or the hostile markup unescaped.
func TestDrillHostileContent(t *testing.T) {
	start := time.Now()
	w := newWorld(t)
	in := w.startInstance("a")
	var mu sync.Mutex
	var sent [][]byte
	w.relay.SetData(func(m smtptest.Message) *smtp.SMTPError {
		mu.Lock()
		sent = append(sent, m.Data)
		mu.Unlock()
		return w.ids.data(m)
	})
	corpus := hostileCorpus()
	refused := map[string]string{}
	for i, m := range corpus {
		err := sendFrom(in.smtp, "127.0.0.1", fmt.Sprintf("hostile%d@load.test", i+1), "ask@"+Domain, m.raw)
		if err != nil {
			refused[m.name] = err.Error()
			if !strings.Contains(err.Error(), `"5`) {
				t.Errorf("%s: %v, want 250 or a specific 5xx", m.name, err)
			}
		}
	}
	w.drain(2 * time.Minute)
	var stuck, stored int
	_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state = 'accepted'), count(*) FROM inbound`).Scan(&stuck, &stored)
	if stuck != 0 || stored+len(refused) != len(corpus) {
		t.Errorf("%d of %d stored messages unprocessed; %d refused at SMTP (%v)", stuck, stored, len(refused), refused)
	}
	var noReason int
	_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbound WHERE state IN ('ignored', 'failed') AND reason = ''`).Scan(&noReason)
	if noReason != 0 {
		t.Errorf("%d messages ignored or failed without a reason", noReason)
	}
	mu.Lock()
	for _, raw := range sent {
		for _, p := range injected(raw) {
			t.Errorf("a mail the forum sent: %s\n%s", p, raw[:min(len(raw), 1500)])
		}
	}
	nSent := len(sent)
	mu.Unlock()
	if nSent == 0 {
		t.Error("the forum sent nothing: the corpus's confirmation requests are missing")
	}
	if !in.running() {
		t.Fatalf("the instance died:\n%s", in.logText())
	}
	received, dups := w.ids.counts()
	w.record(result{Drill: "6 hostile content", Load: fmt.Sprintf("%d malicious messages (%d refused at SMTP), %d mails sent checked", len(corpus), len(refused), nSent),
		Faults: "header injection (encoded CRLF in subjects and names, raw headers), markup, invalid UTF-8, NUL, hostile HTML, a 60-deep multipart, 1,000 parts, a zip bomb, 100,000 headers, a 10,000-character subject",
		Sent:   len(corpus), OK: len(corpus) - len(refused), Received: received, Duplicates: dups, Took: time.Since(start)}, in)
}

// injected lists what is wrong with raw, a mail the forum sent: an
// injected header, more than one recipient, a CR, LF or NUL in a decoded
// header, hostile markup unescaped.
func injected(raw []byte) []string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return []string{"does not parse: " + err.Error()}
	}
	var out []string
	for _, k := range []string{"X-Injected", "Bcc", "Cc", "X-Filler-1"} {
		if _, ok := m.Header[k]; ok {
			out = append(out, "has the injected header "+k)
		}
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 1 {
		out = append(out, fmt.Sprintf("To is %q (%v), want one address", m.Header.Get("To"), err))
	}
	dec := new(mime.WordDecoder)
	for k, vs := range m.Header {
		for _, v := range vs {
			d, err := dec.DecodeHeader(v)
			if err == nil && strings.ContainsAny(d, "\r\n\x00") {
				out = append(out, fmt.Sprintf("header %s decodes to %q", k, d))
			}
		}
	}
	html, err := htmlPart(raw)
	if err != nil {
		return append(out, "its parts do not parse: "+err.Error())
	}
	for _, bad := range []string{"<script", "<img", `href="javascript`, "<iframe", "<svg"} {
		if strings.Contains(html, bad) {
			out = append(out, "its HTML carries "+bad+" unescaped")
		}
	}
	return out
}

// htmlPart is the decoded text/html part of raw ("" when none).
func htmlPart(raw []byte) (string, error) {
	r, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if h, ok := p.Header.(*gomail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "text/html" {
				b, err := io.ReadAll(p.Body)
				return string(b), err
			}
		}
	}
}

// TestInjectedFinds: the drill's check finds an injected header, a
// second recipient, an encoded CRLF and live markup.
func TestInjectedFinds(t *testing.T) {
	raw := "From: a@example.org\r\nTo: x@example.org, y@example.org\r\nBcc: v@evil.example\r\nSubject: =?utf-8?q?a=0D=0AX-Injected:_b?=\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n<p>hi<script>alert(1)</script></p>\r\n"
	got := strings.Join(injected([]byte(raw)), "; ")
	for _, want := range []string{"Bcc", "want one address", "decodes to", "<script"} {
		if !strings.Contains(got, want) {
			t.Errorf("injected() = %q, lacks %q", got, want)
		}
	}
	clean := "From: a@example.org\r\nTo: x@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>&lt;script&gt;</p>\r\n"
	if got := injected([]byte(clean)); len(got) != 0 {
		t.Errorf("a clean mail: %v", got)
	}
}
