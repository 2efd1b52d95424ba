package systemtest

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/postern/postern/templates"
)

// signInPath matches the path of a sign-in link.
var signInPath = regexp.MustCompile(`https?://forum\.test(/signin/[A-Za-z0-9_-]+)`)

// signInAs signs b in as the member at addr through the sign-in form and
// the mailed link.
func (b *browser) signInAs(relay *sink, addr string) {
	b.t.Helper()
	tok := formToken(b.t, b.get("/signin"))
	if status, page := b.do("POST", "/signin", url.Values{"token": {tok}, "address": {addr}}, nil); status != 200 || !strings.Contains(page, "Check your email") {
		b.t.Fatalf("sign-in request: %d\n%s", status, page)
	}
	_, raw := relay.waitFor(b.t, addr, subjectHas("Your sign-in link"))
	link := signInPath.FindSubmatch(raw)
	if link == nil {
		b.t.Fatalf("no sign-in link:\n%s", raw)
	}
	if status, page := b.do("POST", string(link[1]), nil, nil); status != 200 || !strings.Contains(page, "Your email settings") {
		b.t.Fatalf("sign in: %d\n%s", status, page)
	}
}

// TestSignedInRefusals: a signed-in member's actions follow the email
// commands' rules and say why when refused (nobody votes on their own
// post, only the asker selects, only the author edits), need the page's
// token and its origin, and never reach a post that is not shown.
func TestSignedInRefusals(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	member(t, a, relay, "gus@example.org", "Gus", "Why do I dream?")   // question 1
	member(t, a, relay, "ida@example.org", "Ida", "Why do cats purr?") // question 2
	b := newBrowser(t, a)
	b.signInAs(relay, "gus@example.org")
	tok := formToken(t, b.get("/q/2"))
	cases := []struct {
		name, path string
		form       url.Values
		hd         map[string]string
		status     int
		says       string
	}{
		{"own post", "/p/1/vote", url.Values{"token": {tok}, "vote": {"up"}}, nil, 409, templates.RefuseVoteOwn},
		{"not the asker", "/p/2/best", url.Values{"token": {tok}, "best": {"1"}}, nil, 409, templates.RefuseSelectNotAnswer},
		{"another's post", "/p/2/edit", url.Values{"token": {tok}, "body": {"mine now"}}, nil, 409, templates.RefuseEditOthers},
		{"empty edit", "/p/1/edit", url.Values{"token": {tok}, "body": {"  "}}, nil, 400, templates.EditEmpty},
		{"no token", "/p/2/vote", url.Values{"vote": {"up"}}, nil, 403, "did not come from this forum"},
		{"cross-site", "/p/2/vote", url.Values{"token": {tok}, "vote": {"up"}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, "did not come from this forum"},
		{"no such post", "/p/99/vote", url.Values{"token": {tok}, "vote": {"up"}}, nil, 404, "no page here"},
	}
	for _, c := range cases {
		status, page := b.do("POST", c.path, c.form, c.hd)
		if status != c.status || !strings.Contains(strings.ToLower(page), strings.ToLower(htmlEscape(c.says))) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", c.name, status, c.status, c.says, page)
		}
	}
	if status, _ := b.do("GET", "/p/2/edit", nil, nil); status != 404 {
		t.Errorf("the edit form of another's post: %d, want 404", status)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM votes`); n != 0 {
		t.Errorf("%d votes stored by refused actions", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM posts WHERE edited_at IS NOT NULL`); n != 0 {
		t.Errorf("%d posts edited by refused actions", n)
	}
	// A vote on Ida's question counts once, whichever way it last went.
	for _, v := range []string{"up", "down", "up"} {
		if status, _ := b.do("POST", "/p/2/vote", url.Values{"token": {tok}, "vote": {v}}, nil); status != 200 {
			t.Fatalf("vote %s: %d", v, status)
		}
	}
	if n := mtCount(t, a, `SELECT votes FROM posts WHERE id = 2`); n != 1 {
		t.Errorf("question 2 has %d votes after up, down, up by one member", n)
	}
}

// htmlEscape is s as html/template writes it in a page.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", `"`, "&#34;", "<", "&lt;", ">", "&gt;").Replace(s)
}
