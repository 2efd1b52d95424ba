package parse

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

func TestCorpusBodies(t *testing.T) {
	cases := []struct {
		file     string
		text     string // substring of Text
		html     string // substring of HTML
		fromName string
		attach   string // an attachment file name
		check    func(t *testing.T, m *Message)
	}{
		{file: "big5.eml", text: "媽！我上電視了！", html: "媽！我上電視了！"},
		{file: "chinese_reply.eml", text: "您好！ 你今天好吗？"},
		{file: "hebrew.eml", text: "שלום"},
		{file: "hebrew_reply.eml", text: "שלום! מה שלומך היום?"},
		{file: "encoded_display_name.eml", fromName: "Случайная Имя", text: "Будьте здоровы!"},
		{file: "encoded_filename.eml", attach: "This is a test.pdf"},
		{file: "reply_with_8bit_encoding.eml", text: "hab vergessen kritische zeichen einzufügen:\näöüÄÖÜß"},
		{file: "reply_with_weird_encoding.eml", text: "This is a reply with a weird encoding."},
		{file: "encoding_undefined_conversion.eml", text: "𝗜 𝗮𝗺 𝗮 𝘀𝗶𝗻𝗴𝗹𝗲 person."},
		{file: "text_reply.eml", text: "because of a UTF-8 character: ’"},
		{file: "dutch.eml", text: "Dit is een antwoord in het Nederlands."},
		{file: "attached_eml_file.eml", text: "Please find the eml file attached.", check: func(t *testing.T, m *Message) {
			if strings.Contains(m.Text, "Subject:") || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "message/rfc822" {
				t.Errorf("attached .eml must stay an attachment: text %q, attachments %d", m.Text, len(m.Attachments))
			}
			if !strings.HasSuffix(m.Attachments[0].Filename, ".eml") {
				t.Errorf("attachment name %q", m.Attachments[0].Filename)
			}
		}},
		{file: "null_byte_in_subject.eml", check: func(t *testing.T, m *Message) {
			if strings.ContainsRune(m.Subject, 0) || m.Subject == "" {
				t.Errorf("subject %q", m.Subject)
			}
		}},
		{file: "missing_message_id.eml", text: "Some body", check: func(t *testing.T, m *Message) {
			if !m.Synthesized || !strings.HasPrefix(m.MessageID, "sha256-") || !strings.HasSuffix(m.MessageID, "@postern.invalid") || len(m.MessageID) != len("sha256-")+32+len("@postern.invalid") {
				t.Errorf("synthesised id %q (%v)", m.MessageID, m.Synthesized)
			}
			again, err := Parse(readFixture(t, "missing_message_id.eml"), Limits{})
			if err != nil || again.MessageID != m.MessageID {
				t.Errorf("synthesised id not stable: %q vs %q", again.MessageID, m.MessageID)
			}
		}},
		{file: "email_reply_4.eml", check: func(t *testing.T, m *Message) {
			if len(m.References) < 2 {
				t.Errorf("folded References: %q", m.References)
			}
		}},
		{file: "email_to_group_email_username_3.eml", check: func(t *testing.T, m *Message) {
			if len(m.InReplyTo) != 1 || strings.ContainsAny(m.InReplyTo[0], "<> ") {
				t.Errorf("unbracketed In-Reply-To: %q", m.InReplyTo)
			}
			if m.Date.IsZero() {
				t.Errorf("date with full weekday name not parsed")
			}
		}},
		{file: "long_embedded_email_headers.eml", check: func(t *testing.T, m *Message) {
			var got []string
			for _, a := range m.Cc {
				got = append(got, a.Addr)
			}
			if strings.Join(got, ",") != "c@example.com,d@example.com" {
				t.Errorf("repaired Cc: %q", got)
			}
		}},
		{file: "inline_mixed.eml", text: "The quick brown fox"},
		{file: "bounced_email.eml", check: func(t *testing.T, m *Message) {
			if !bytes.Contains(m.DeliveryStatus, []byte("Status: 5.1.1")) || m.ReportedHeaders.Get("From") == "" {
				t.Errorf("DSN parts: %q / %v", m.DeliveryStatus, m.ReportedHeaders.Map())
			}
		}},
		{file: "body_with_image.eml", html: "GMAIL", check: func(t *testing.T, m *Message) {
			if len(m.Attachments) == 0 || !strings.HasPrefix(m.Attachments[0].ContentType, "image/") || m.Attachments[0].ContentID == "" {
				t.Errorf("inline image: %+v", m.Attachments)
			}
		}},
		{file: "invalid_from_1.eml", check: func(t *testing.T, m *Message) {
			if !m.HasFrom || m.From.Addr != "discourse@bar.com" || len(m.Warnings) == 0 {
				t.Errorf("recovered From %+v, warnings %q", m.From, m.Warnings)
			}
		}},
		{file: "reply_to_different_to_from_quoted_display_name.eml", check: func(t *testing.T, m *Message) {
			if len(m.ReplyTo) != 1 || m.ReplyTo[0].Name != "Marston, John" {
				t.Errorf("Reply-To %+v", m.ReplyTo)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			m, err := Parse(readFixture(t, c.file), Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.text != "" && !strings.Contains(m.Text, c.text) {
				t.Errorf("Text = %q, want it to contain %q", m.Text, c.text)
			}
			if c.html != "" && !strings.Contains(m.HTML, c.html) {
				t.Errorf("HTML = %q, want it to contain %q", m.HTML, c.html)
			}
			if c.fromName != "" && m.From.Name != c.fromName {
				t.Errorf("From.Name = %q, want %q", m.From.Name, c.fromName)
			}
			if c.attach != "" {
				found := false
				for _, a := range m.Attachments {
					found = found || a.Filename == c.attach
				}
				if !found {
					t.Errorf("no attachment named %q in %+v", c.attach, m.Attachments)
				}
			}
			if c.check != nil {
				c.check(t, m)
			}
		})
	}
}

func TestISO2022JP(t *testing.T) {
	const want = "こんにちは、世界。テストです。"
	body, err := japanese.ISO2022JP.NewEncoder().String(want)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	subj, _ := japanese.ISO2022JP.NewEncoder().String("件名")
	raw := "From: =?ISO-2022-JP?B?" + b64(subj) + "?= <taro@Example.JP>\r\n" +
		"Subject: =?ISO-2022-JP?B?" + b64(subj) + "?=\r\n" +
		"Message-ID: <jp1@example.jp>\r\n" +
		"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body + "\r\n"
	m, err := Parse([]byte(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, want) || m.Subject != "件名" || m.From.Name != "件名" || m.From.Addr != "taro@example.jp" {
		t.Errorf("got text %q subject %q from %+v", m.Text, m.Subject, m.From)
	}
}

func b64(s string) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var sb strings.Builder
	b := []byte(s)
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := 0
		for ; k < 3 && i+k < len(b); k++ {
			n |= uint32(b[i+k]) << (16 - 8*k)
		}
		for j := 0; j < 4; j++ {
			if j <= k {
				sb.WriteByte(alpha[n>>(18-6*j)&63])
			} else {
				sb.WriteByte('=')
			}
		}
	}
	return sb.String()
}

func TestDeepNesting(t *testing.T) {
	const depth = 1000
	var sb strings.Builder
	sb.WriteString("From: a@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&sb, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&sb, "--b%d\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n", depth-1)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "--b%d--\r\n", i)
	}
	for _, lim := range []Limits{{}, {MaxDepth: 5000, MaxParts: 5000}} {
		m, err := Parse([]byte(sb.String()), lim)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if lim.MaxDepth == 0 && (m.Text != "" || !hasWarning(m, "depth") || !m.PartsDropped) {
			t.Errorf("default limits: text %q warnings %q, parts dropped %v", m.Text, m.Warnings, m.PartsDropped)
		}
		if lim.MaxDepth == 5000 && (strings.TrimSpace(m.Text) != "innermost" || m.PartsDropped) {
			t.Errorf("1000 levels within the hard cap: text %q warnings %q, parts dropped %v", m.Text, m.Warnings, m.PartsDropped)
		}
	}
}

func hasWarning(m *Message, sub string) bool {
	for _, w := range m.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestRobustness(t *testing.T) {
	cases := []struct {
		name  string
		raw   string
		check func(t *testing.T, m *Message)
	}{
		{"mbox and blank lines", "\n\nFrom someone@example.com Mon Jan  1 00:00:00 2024\nFrom: A <a@EXAMPLE.com>\nSubject: hi\n\nbody\n", func(t *testing.T, m *Message) {
			if m.From.Addr != "a@example.com" || m.Subject != "hi" || m.Text != "body\n" {
				t.Errorf("%+v %q %q", m.From, m.Subject, m.Text)
			}
		}},
		{"8-bit latin1 header", "From: J\xfcrgen <j@example.de>\nSubject: Gr\xfc\xdfe\n\nx", func(t *testing.T, m *Message) {
			if m.From.Name != "Jürgen" || m.Subject != "Grüße" {
				t.Errorf("%q %q", m.From.Name, m.Subject)
			}
		}},
		{"8-bit utf8 header", "From: Jürgen <j@example.de>\nSubject: Grüße\n\nx", func(t *testing.T, m *Message) {
			if m.From.Name != "Jürgen" || m.Subject != "Grüße" {
				t.Errorf("%q %q", m.From.Name, m.Subject)
			}
		}},
		{"malformed header line dropped", "From: a@example.com\n: nothing\nSubject: ok\n\nbody", func(t *testing.T, m *Message) {
			if m.Subject != "ok" {
				t.Errorf("subject %q", m.Subject)
			}
		}},
		{"malformed encoded word kept", "From: a@example.com\nSubject: =?utf-8?B?###?= hello\n\nx", func(t *testing.T, m *Message) {
			if !strings.Contains(m.Subject, "=?utf-8?B?###?=") {
				t.Errorf("subject %q", m.Subject)
			}
		}},
		{"unknown charset", "From: a@example.com\nContent-Type: text/plain; charset=x-klingon\n\nqapla'", func(t *testing.T, m *Message) {
			if m.Text != "qapla'" || !hasWarning(m, "unknown charset") {
				t.Errorf("%q %q", m.Text, m.Warnings)
			}
		}},
		{"undeclared 8-bit body", "From: a@example.com\n\ncaf\xe9", func(t *testing.T, m *Message) {
			if m.Text != "café" {
				t.Errorf("%q", m.Text)
			}
		}},
		{"truncated multipart", "From: a@example.com\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nfirst part\n--XX\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBER", func(t *testing.T, m *Message) {
			if m.Text != "first part" || len(m.Attachments) != 1 || !hasWarning(m, "closing boundary") {
				t.Errorf("%q %d %q", m.Text, len(m.Attachments), m.Warnings)
			}
		}},
		{"bad base64", "From: a@example.com\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29y*bGQ\n!!", func(t *testing.T, m *Message) {
			if m.Text != "hello world" {
				t.Errorf("%q", m.Text)
			}
		}},
		{"quoted-printable", "From: a@example.com\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe, soft=\nbreak, bad =ZZ", func(t *testing.T, m *Message) {
			if m.Text != "Grüße, softbreak, bad =ZZ" {
				t.Errorf("%q", m.Text)
			}
		}},
		{"utf-7", "From: a@example.com\nContent-Type: text/plain; charset=utf-7\n\nHi Mom -+Jjo--! 1 +- 1 = 2 +ZeVnLIqe-", func(t *testing.T, m *Message) {
			if m.Text != "Hi Mom -☺-! 1 + 1 = 2 日本語" {
				t.Errorf("%q", m.Text)
			}
		}},
		{"msgid lists", "From: a@example.com\nMessage-ID: <x@y>\nIn-Reply-To: a@b\nReferences: <a@b>\n <c@d> <a@b> e@f\n\nx", func(t *testing.T, m *Message) {
			if m.MessageID != "x@y" || strings.Join(m.InReplyTo, " ") != "a@b" || strings.Join(m.References, " ") != "a@b c@d e@f" {
				t.Errorf("%q %q %q", m.MessageID, m.InReplyTo, m.References)
			}
		}},
		{"flowed", "From: a@example.com\nContent-Type: text/plain; format=flowed\n\nThis is a \nflowed line.\n> quoted \n> too\n-- \nsig", func(t *testing.T, m *Message) {
			if m.Text != "This is a flowed line.\n> quoted too\n-- \nsig" {
				t.Errorf("%q", m.Text)
			}
		}},
		{"headers only", "From: a@example.com\nSubject: s", func(t *testing.T, m *Message) {
			if m.Subject != "s" || m.Text != "" {
				t.Errorf("%q %q", m.Subject, m.Text)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse([]byte(c.raw), Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			c.check(t, m)
		})
	}
	for _, empty := range []string{"", "\n\n  \r\n"} {
		if _, err := Parse([]byte(empty), Limits{}); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", empty)
		}
	}
}
