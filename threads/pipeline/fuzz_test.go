package pipeline

import (
	"github.com/postern/postern/threads"
	"strings"
	"testing"

	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/parse"
)

// FuzzPipeline drives the pure path every received message takes before
// it touches the database: parse, classify, extract and trim the body,
// pick threading candidates, recognise commands, tags and the title. It
// must never panic, and what it keeps must come from the message.
func FuzzPipeline(f *testing.F) {
	f.Add([]byte("From: A <a@example.org>\r\nTo: ask@forum.test\r\nSubject: [sleep] Hi #tag\r\nMessage-ID: <1@x>\r\n\r\nTags: a\r\nHello\r\n\r\nOn Mon, B wrote:\r\n> quoted\r\n"))
	f.Add([]byte("From: b@example.org\nIn-Reply-To: <n1.abc@forum.test>\nReferences: <q1@forum.test>\n <n1.abc@forum.test>\nContent-Type: text/html\n\n<p>+1</p><div class=\"gmail_quote\">old</div>"))
	f.Add([]byte("From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b\nStatus: 5.1.1\nAction: failed\n--b--"))
	f.Add([]byte("Subject: =?utf-8?q?edit?=\nContent-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain; charset=iso-2022-jp\n\n\x1b$B$3$s\x1b(B\n--x"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parse.Parse(raw, parse.Limits{})
		if err != nil {
			return
		}
		classify.Classify(m, "a@example.org", "forum.test")
		classify.ParseDSN(m)
		body, elided := ExtractBody(m)
		if len(body) > 4*len(raw)+64 || len(elided) > 4*len(raw)+64 {
			t.Fatalf("extracted %d+%d bytes from %d", len(body), len(elided), len(raw))
		}
		for _, id := range threads.CandidateIDs(m.InReplyTo, m.References) {
			if id == "" || strings.ContainsAny(id, "<>") {
				t.Fatalf("bad candidate id %q", id)
			}
		}
		threads.ParseCommand(body)
		title, _, tags, _ := threads.ParseTags(threads.QuestionTitle(m.Subject), body)
		if len(tags) > 5 {
			t.Fatalf("%d tags", len(tags))
		}
		if threads.QuestionTitle(title) == "" {
			t.Fatal("empty title")
		}
	})
}

// BenchmarkRoute measures the pure routing steps for a typical reply.
func BenchmarkRoute(b *testing.B) {
	raw := []byte("From: Bob <bob@example.net>\r\nTo: notifications@forum.test\r\nSubject: Re: [Forum] How do I sleep?\r\nMessage-ID: <b1@x>\r\nIn-Reply-To: <n12.abcdefgh@forum.test>\r\nReferences: <q3.abcde@forum.test> <n12.abcdefgh@forum.test>\r\n\r\n" +
		strings.Repeat("Keep the same wake-up time every day.\r\n", 20) + "\r\nOn Tue, Nov 24, 2026 at 9:00 PM Alice via Forum <notifications@forum.test> wrote:\r\n" + strings.Repeat("> Every night I wake up at 4am.\r\n", 60))
	b.ReportAllocs()
	for b.Loop() {
		m, _ := parse.Parse(raw, parse.Limits{})
		classify.Classify(m, "bob@example.net", "forum.test")
		body, _ := ExtractBody(m)
		threads.CandidateIDs(m.InReplyTo, m.References)
		threads.ParseCommand(body)
	}
}
