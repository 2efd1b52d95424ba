package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	mrand "math/rand/v2"
	"strings"
	"time"
)

// Message kinds the bench sends.
const (
	kindText = "4 KB text/plain reply"
	kindHTML = "60 KB multipart/alternative reply"
)

// generator makes realistic messages. Filler text is built once per size
// in a few variants; each message differs in its headers, its marker and
// its first paragraph.
type generator struct {
	nonce   string
	quotes  [][]string // variants of quoted lines ("> ...")
	htmls   []string   // variants of quoted HTML
	written []string   // variants of the writer's own paragraphs
}

var vocabulary = strings.Fields(`the a an and or but if then because when while so that this those these
question answer reply mail message thread forum server client database queue worker notification
people person follower subscribe post comment best vote category link page browser address token
I you we they it is are was were be been have has had do does did can could would should might
think know see try use need want make get find help work fail fix run start stop send receive
every some many few more most other same different new old first last next good bad better worse
time day week year hour minute second today yesterday tomorrow morning evening night
really quite just still already also only even again always never often sometimes usually
problem solution idea reason example case point way part end kind sort thing stuff
configuration setting option default value file folder disk memory network connection`)

func newGenerator() *generator {
	g := &generator{nonce: randomHex(4)}
	r := mrand.New(mrand.NewPCG(1, 2))
	for v := 0; v < 8; v++ {
		var q []string
		for i := 0; i < 700; i++ {
			q = append(q, "> "+sentenceLine(r, 60))
		}
		g.quotes = append(g.quotes, q)
		var h strings.Builder
		for h.Len() < 40000 {
			fmt.Fprintf(&h, "<p style=\"margin:0 0 12px 0;font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222222\">%s</p>\r\n",
				html.EscapeString(wrapLines(paragraph(r, 40), 70, "\r\n")))
			if r.IntN(4) == 0 {
				fmt.Fprintf(&h, "<table cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td style=\"padding:4px\">%s</td><td style=\"padding:4px\">%s</td></tr></table>\r\n",
					html.EscapeString(paragraph(r, 5)), html.EscapeString(paragraph(r, 5)))
			}
		}
		g.htmls = append(g.htmls, h.String())
		g.written = append(g.written, wrapLines(paragraph(r, 90)+"\n\n"+paragraph(r, 70)+"\n\n"+paragraph(r, 60), 72, "\r\n"))
	}
	return g
}

// paragraph returns n random words as one sentence-like string.
func paragraph(r *mrand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocabulary[r.IntN(len(vocabulary))]
	}
	s := strings.Join(w, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// sentenceLine returns words up to about width characters.
func sentenceLine(r *mrand.Rand, width int) string {
	var b strings.Builder
	for b.Len() < width {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[r.IntN(len(vocabulary))])
	}
	return b.String()
}

// wrapLines wraps s at white space so no line exceeds width.
func wrapLines(s string, width int, eol string) string {
	var out strings.Builder
	for pi, para := range strings.Split(s, "\n\n") {
		if pi > 0 {
			out.WriteString(eol + eol)
		}
		n := 0
		for i, w := range strings.Fields(para) {
			if i > 0 {
				if n+1+len(w) > width {
					out.WriteString(eol)
					n = 0
				} else {
					out.WriteByte(' ')
					n++
				}
			}
			out.WriteString(w)
			n += len(w)
		}
	}
	return out.String()
}

// marker returns a new unique marker; Postern keeps it in the post's text.
func (g *generator) marker(n int64) string { return fmt.Sprintf("pbm-%dz", n) }

// header writes the common header fields.
func (g *generator) header(b *strings.Builder, from, to, subject, marker string) {
	fmt.Fprintf(b, "From: %s <%s>\r\n", displayName(from), from)
	fmt.Fprintf(b, "To: <%s>\r\n", to)
	fmt.Fprintf(b, "Subject: %s\r\n", subject)
	fmt.Fprintf(b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(b, "Message-ID: <%s.%s@client.test>\r\n", marker, g.nonce)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("User-Agent: postern-bench\r\n")
}

func displayName(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	return strings.ToUpper(local[:1]) + local[1:]
}

// textReply is a text/plain reply of about size bytes: the writer's own
// text (starting with the marker), a signature, an attribution line and
// quoted text filling the rest.
func (g *generator) textReply(from, to string, n int64, size int) outMsg {
	marker := g.marker(n)
	v := int(n) % len(g.written)
	var b strings.Builder
	b.Grow(size + 512)
	g.header(&b, from, to, "Re: A question about the forum", marker)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	fmt.Fprintf(&b, "Reference %s: here is what I found.\r\n\r\n", marker)
	b.WriteString(g.written[v])
	b.WriteString("\r\n\r\n-- \r\n" + displayName(from) + "\r\n\r\n")
	b.WriteString("On Mon, 2 Jun 2025 at 10:12, Someone via Postern <notifications@" + domain + "> wrote:\r\n")
	q := g.quotes[v]
	for i := 0; b.Len() < size; i++ {
		b.WriteString(q[i%len(q)])
		b.WriteString("\r\n")
	}
	return outMsg{from: from, rcpt: []string{to}, data: []byte(b.String()), marker: marker}
}

// htmlReply is a multipart/alternative reply of about size bytes: a
// text/plain part of about a third and an HTML part with the quote in a
// blockquote, as webmail clients send.
func (g *generator) htmlReply(from, to string, n int64, size int) outMsg {
	v := int(n) % len(g.written)
	var b strings.Builder
	marker, boundary := g.multipartReply(&b, from, to, n, size, "alternative", "b1_")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Reference %s: here is what I found.\r\n\r\n", marker)
	b.WriteString(g.written[v])
	b.WriteString("\r\n\r\nOn Mon, 2 Jun 2025 at 10:12, Someone via Postern <notifications@" + domain + "> wrote:\r\n")
	q := g.quotes[v]
	textEnd := b.Len() + size/3
	for i := 0; b.Len() < textEnd; i++ {
		b.WriteString(q[i%len(q)])
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n", boundary)
	b.WriteString("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"></head><body>\r\n<div dir=\"ltr\">\r\n")
	fmt.Fprintf(&b, "<p>Reference %s: here is what I found.</p>\r\n", marker)
	for _, p := range strings.Split(g.written[v], "\r\n\r\n") {
		fmt.Fprintf(&b, "<p>%s</p>\r\n", html.EscapeString(p))
	}
	b.WriteString("</div><br>\r\n<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, 2 Jun 2025 at 10:12, Someone via Postern &lt;notifications@" + domain + "&gt; wrote:<br></div>\r\n")
	b.WriteString("<blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">\r\n")
	h := g.htmls[v]
	rest := size - b.Len() - 200 - len(boundary)
	if rest > len(h) {
		rest = len(h)
	}
	if rest > 0 {
		cut := strings.LastIndex(h[:rest], "</p>\r\n")
		if cut > 0 {
			b.WriteString(h[:cut+6])
		}
	}
	b.WriteString("</blockquote></div></body></html>\r\n")
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return outMsg{from: from, rcpt: []string{to}, data: []byte(b.String()), marker: marker}
}

// multipartReply starts reply n of about size bytes in b: the header and
// a multipart/subtype Content-Type whose boundary is prefix, the marker
// and the generator's nonce. It returns the marker and the boundary.
func (g *generator) multipartReply(b *strings.Builder, from, to string, n int64, size int, subtype, prefix string) (marker, boundary string) {
	marker = g.marker(n)
	boundary = prefix + marker + g.nonce
	b.Grow(size + 1024)
	g.header(b, from, to, "Re: A question about the forum", marker)
	fmt.Fprintf(b, "Content-Type: multipart/%s; boundary=\"%s\"\r\n\r\n", subtype, boundary)
	return marker, boundary
}

// attachmentReply is a reply with a short text and a base64 attachment,
// size bytes in all: how large mail arrives.
func (g *generator) attachmentReply(from, to string, n int64, size int) outMsg {
	var b strings.Builder
	marker, boundary := g.multipartReply(&b, from, to, n, size, "mixed", "m1_")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Reference %s: the log file is attached.\r\n\r\n%s\r\n\r\n", marker, g.written[int(n)%len(g.written)])
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/octet-stream; name=\"trace.bin\"\r\nContent-Disposition: attachment; filename=\"trace.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary)
	tail := fmt.Sprintf("\r\n--%s--\r\n", boundary)
	// 76 base64 characters encode 57 bytes; each line ends in CRLF.
	lines := (size - b.Len() - len(tail)) / 78
	raw := make([]byte, 57*64)
	line := make([]byte, 76)
	for i := 0; i < lines; i++ {
		if i%64 == 0 {
			_, _ = rand.Read(raw)
		}
		base64.StdEncoding.Encode(line, raw[(i%64)*57:(i%64+1)*57])
		b.Write(line)
		b.WriteString("\r\n")
	}
	b.WriteString(tail)
	return outMsg{from: from, rcpt: []string{to}, data: []byte(b.String()), marker: marker}
}

// longText is a text/plain reply of about size bytes, all of it the
// writer's own text (a pasted log, say): no quote trims it away.
func (g *generator) longText(from, to string, n int64, size int) outMsg {
	marker := g.marker(n)
	var b strings.Builder
	b.Grow(size + 512)
	g.header(&b, from, to, "Re: A question about the forum", marker)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	fmt.Fprintf(&b, "Reference %s: my whole sleep log follows.\r\n\r\n", marker)
	for i := 0; b.Len() < size; i++ {
		b.WriteString(g.written[i%len(g.written)])
		b.WriteString("\r\n\r\n")
	}
	return outMsg{from: from, rcpt: []string{to}, data: []byte(b.String()), marker: marker}
}

// question is a new question to ask@, its marker in subject and text.
func (g *generator) question(from string, n int64) outMsg {
	return g.plain(from, "ask@"+domain, fmt.Sprintf("How do I make the queue drain faster? (%d)", n), n, func(marker string) string {
		return fmt.Sprintf("Question %s.\r\n\r\n%s\r\n", marker, g.written[int(n)%len(g.written)])
	})
}

// plain is a short text/plain message n from from to to, its marker in
// subject and header; text makes its body from the marker.
func (g *generator) plain(from, to, subject string, n int64, text func(marker string) string) outMsg {
	marker := g.marker(n)
	var b strings.Builder
	g.header(&b, from, to, subject, marker)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(text(marker))
	return outMsg{from: from, rcpt: []string{to}, data: []byte(b.String()), marker: marker}
}

// confirmation answers a confirmation request: a mail to its confirm+TOKEN
// address from the person asked.
func (g *generator) confirmation(from, to string, n int64) outMsg {
	return g.plain(from, to, "Re: Please confirm", n, func(string) string { return "Yes, that was me.\r\n" })
}

// subscribe is a mail to subscribe@ from from.
func (g *generator) subscribe(from string, n int64) outMsg {
	return g.plain(from, "subscribe@"+domain, "subscribe", n, func(string) string { return "Please send me the new questions.\r\n" })
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
