package mailout

import (
	"testing"

	"github.com/postern/postern/templates"
)

// TestRenderCacheMatchesDirect renders every mail kind for recipients
// with awkward names, through one renderCache, and compares each result
// byte for byte with rendering that recipient's mail directly: the
// substitution of per-recipient fields must be invisible.
func TestRenderCacheMatchesDirect(t *testing.T) {
	tmpl, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := newRenderCache(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "https://forum.test/unsubscribe/"
	names := []string{"", "Ann", `O'Brien & <Sons> "x" +1`, "  two  spaces ", "Zoë 🌙", "xpsnm-not-a-marker"}
	toks := []string{"", "u7abcdefgh234567", "u2zz"}
	for _, kind := range tmpl.MailKinds() {
		for _, name := range names {
			for _, tok := range toks {
				data := templates.MailData{
					ForumName: "Sleep & Co", PosterName: "Bob <b>", Kind: kind, QuestionTitle: "Why 4am?",
					QuestionID: 7, PostKind: "question", Body: "Line one\n\n> quoted & <b>\nend",
					ThreadURL: "https://forum.test/q/7#p7", CategoryName: "Night", ActionURL: "https://forum.test/confirm/x",
					Reason: "because", Files: []templates.FileLink{{Name: "a&b.png", Size: "3 KB", URL: "https://forum.test/a/1"}},
					Forum: templates.ForumAddresses{Ask: "ask@forum.test", Help: "help@forum.test"},
				}
				direct := data
				direct.RecipientName = name
				if tok != "" {
					direct.UnsubscribeURL = prefix + tok
				}
				ws, wt, wh, err := tmpl.Mail(kind, direct)
				if err != nil {
					t.Fatal(err)
				}
				cached := data
				cached.RecipientName = name
				gs, gt, gh, err := rc.mail(kind, 7, 7, cached, prefix, tok)
				if err != nil {
					t.Fatal(err)
				}
				if gs != ws || gt != wt || gh != wh {
					t.Errorf("%s, name %q, token %q: cached rendering differs:\nsubject %q\n   want %q\ntext %q\n   want %q\nhtml %q\n   want %q",
						kind, name, tok, gs, ws, gt, wt, gh, wh)
				}
			}
		}
	}
	if len(rc.m) > 4*len(tmpl.MailKinds()) {
		t.Errorf("%d renderings cached for %d kinds: the cache is keyed on per-recipient data", len(rc.m), len(tmpl.MailKinds()))
	}
}
