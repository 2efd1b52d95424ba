package mailout

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads/mailkind"
)

// BenchmarkFanoutMessage is the per-follower work of a fan-out: the
// cached rendering of a new question with a 3 KB body and the composed
// message (go test -bench FanoutMessage -benchmem ./mailout).
func BenchmarkFanoutMessage(b *testing.B) {
	tmpl, err := templates.New()
	if err != nil {
		b.Fatal(err)
	}
	rc, err := newRenderCache(tmpl)
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("A line of the question, with words in it, long enough to wrap.\n", 48)
	data := templates.MailData{
		ForumName: "Gardeners", PosterName: "Ann Asker", Kind: mailkind.NewQuestion, QuestionTitle: "Why do my tomatoes split?",
		QuestionID: 7, PostKind: "question", Body: body, ThreadURL: "https://forum.test/q/7#p7",
		UnsubscribeAddress: "unsubscribe@forum.test",
	}
	b.ReportAllocs()
	size := 0
	for i := 0; b.Loop(); i++ {
		d := data
		d.RecipientName = fmt.Sprintf("Follower %06d", i)
		subject, text, html, err := rc.mail(d.Kind, 7, 7, d, "https://forum.test/unsubscribe/", "u7abcdefgh234567")
		if err != nil {
			b.Fatal(err)
		}
		msg, err := Compose(&Outgoing{
			To: mail.Address{Name: d.RecipientName, Address: "follower@followers.test"}, FromName: "Ann Asker via Gardeners",
			FromAddr: "notifications@forum.test", ReplyTo: "reply+abcdefghijklmnop@forum.test", MessageID: "n7.42@forum.test",
			Subject: subject, Text: text, HTML: html, ListID: "Gardeners <forum.forum.test>",
			UnsubscribeURL: "https://forum.test/unsubscribe/u7abcdefgh234567", UnsubscribeMailto: "unsubscribe@forum.test",
		})
		if err != nil {
			b.Fatal(err)
		}
		size = len(msg)
	}
	b.ReportMetric(float64(size), "bytes/msg")
}
