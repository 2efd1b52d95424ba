package parse

import (
	"fmt"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@example.com\nSubject: hi\n\nbody"))
	f.Add([]byte("\nFrom x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-7\n\n+AGEAYgBj-\n--b\n"))
	f.Add([]byte("Content-Type: text/plain; charset*=utf-8''%E2%82%AC\nContent-Transfer-Encoding: base64\n\n4oKs=="))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw, Limits{MaxParts: 50, MaxDepth: 20})
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
	})
}

// benchReply is a ~4 KB plain-text reply.
func benchReply() []byte {
	var sb strings.Builder
	sb.WriteString("From: Walter White <walter@example.com>\r\nTo: reply+abc@forum.example\r\n" +
		"Subject: Re: [Forum] A question\r\nDate: Mon, 1 Dec 2014 20:48:40 +0530\r\n" +
		"Message-ID: <abc123@example.com>\r\nIn-Reply-To: <topic/1@forum.example>\r\n" +
		"References: <topic/1@forum.example> <post/2@forum.example>\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for sb.Len() < 4096 {
		sb.WriteString("The quick brown fox jumps over the lazy dog =E2=80=94 caf=C3=A9 na=C3=AFve.\r\n")
	}
	return []byte(sb.String())
}

// benchAlternative is a ~60 KB multipart/alternative message.
func benchAlternative() []byte {
	var text, html strings.Builder
	for text.Len() < 20000 {
		text.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n")
		html.WriteString("<p>Lorem <b>ipsum</b> dolor sit amet, <a href=\"https://example.com/x\">consectetur</a> adipiscing elit.</p>\r\n")
	}
	for html.Len() < 38000 {
		html.WriteString("<div>padding &amp; more padding</div>\r\n")
	}
	return []byte(fmt.Sprintf("From: a@example.com\r\nSubject: alt\r\nMessage-ID: <alt@example.com>\r\n"+
		"Content-Type: multipart/alternative; boundary=\"BOUND\"\r\n\r\n"+
		"--BOUND\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n%s\r\n"+
		"--BOUND\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n%s\r\n--BOUND--\r\n", text.String(), html.String()))
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"text-4KB", benchReply()}, {"alternative-60KB", benchAlternative()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				if _, err := Parse(c.raw, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
