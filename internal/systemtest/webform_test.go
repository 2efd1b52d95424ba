package systemtest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is an HTTP client with a cookie jar, as a browser posting the
// forum's forms is.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, a *app) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}, base: "http://" + a.httpAddr.String()}
}

// get returns the page at path, failing unless it is 200.
func (b *browser) get(path string) string {
	b.t.Helper()
	status, body := b.do("GET", path, nil, nil)
	if status != http.StatusOK {
		b.t.Fatalf("GET %s: %d", path, status)
	}
	return body
}

// do sends a request with form fields and extra headers.
func (b *browser) do(method, path string, form url.Values, hd map[string]string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hd {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var tokenField = regexp.MustCompile(`name="token" value="([^"]+)"`)

// formToken returns the token of the form on page.
func formToken(t *testing.T, page string) string {
	t.Helper()
	m := tokenField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on the page:\n%s", page)
	}
	return m[1]
}

// TestWebAskForm: a question asked in the ask form, with a name, tags
// and a category, is held until its address is confirmed by reply to the
// mailed request, then published under that name; sending the form twice
// stores it once. An answer in the form from a confirmed member's
// address is held too, and the member asked: a form is never evidence.
func TestWebAskForm(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	if _, err := a.Store().AddCategory(context.Background(), "sleep", "Sleep"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, a)
	tok := formToken(t, b.get("/ask"))
	fay := "fay@example.net"
	form := url.Values{"token": {tok}, "title": {"Is napping good?"}, "body": {"I nap at 3pm every day."},
		"category": {"sleep"}, "tags": {"naps, energy"}, "name": {"Fay"}, "notify": {"1"}, "address": {fay}}
	for range 2 {
		if status, page := b.do("POST", "/ask", form, nil); status != 200 || !strings.Contains(page, "Check your email") {
			t.Fatalf("POST /ask: %d\n%s", status, page)
		}
	}
	waitDrained(t, a)
	if n := mtCount(t, a, `SELECT count(*) FROM inbound WHERE source = 'web'`); n != 1 {
		t.Errorf("%d web messages stored for one form sent twice, want 1", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM posts WHERE state = 'visible'`); n != 0 {
		t.Fatalf("%d posts shown before the address is confirmed", n)
	}
	req, raw := relay.waitFor(t, fay, subjectHas("Please confirm your message: Is napping good?"))
	if !strings.Contains(string(raw), "wrote this on the web pages") {
		t.Errorf("request does not say the post was written on the web:\n%s", raw)
	}
	confirmByReply(t, a, fay, req)
	relay.waitFor(t, fay, subjectHas("] Is napping good?"))
	page := b.get("/q/1")
	for _, want := range []string{"Is napping good?", "I nap at 3pm", `href="/c/sleep"`, `href="/t/naps"`, `href="/t/energy"`, "Fay"} {
		if !strings.Contains(page, want) {
			t.Errorf("question page lacks %q", want)
		}
	}
	// Fay is a confirmed member now; her address in the answer form is
	// still only a claim.
	tok = formToken(t, page)
	answer := url.Values{"token": {tok}, "body": {"Short naps help me."}, "name": {"Not Fay"}, "notify": {"1"}, "address": {fay}}
	if status, page := b.do("POST", "/q/1/answer", answer, nil); status != 200 {
		t.Fatalf("POST answer: %d\n%s", status, page)
	}
	waitDrained(t, a)
	if strings.Contains(b.get("/q/1"), "Short naps") {
		t.Error("a web answer under a member's address is shown without their confirmation")
	}
	relay.waitFor(t, fay, subjectHas("Please confirm your message: Is napping good?"))
	if strings.Contains(b.get("/q/1"), "fay@") || strings.Contains(b.get("/q/1"), "example.net") {
		t.Error("the page shows an address")
	}
}

// TestWebFormRefusals: a form without its token, with another form's
// token, from another site, with the honeypot filled, too long, without
// or with an unusable address, with an unknown category, or under a
// closed question is refused with a clear sentence and the right status,
// and stores nothing, sends nothing.
func TestWebFormRefusals(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	member(t, a, relay, "gus@example.org", "Gus", "Why do I dream?")
	b := newBrowser(t, a)
	answerTok := formToken(t, b.get("/q/1"))
	askTok := formToken(t, b.get("/ask"))
	good := func(tok string) url.Values {
		return url.Values{"token": {tok}, "body": {"Dreams sort memories."}, "title": {"A title"}, "notify": {"1"}, "address": {"hal@example.com"}}
	}
	with := func(v url.Values, k, val string) url.Values { v.Set(k, val); return v }
	cases := []struct {
		name, path string
		form       url.Values
		hd         map[string]string
		status     int
		says       string
	}{
		{"no token", "/q/1/answer", with(good(answerTok), "token", ""), nil, 403, "did not come from this forum"},
		{"ask token on answer", "/q/1/answer", good(askTok), nil, 403, "did not come from this forum"},
		{"cross-site", "/q/1/answer", good(answerTok), map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, "did not come from this forum"},
		{"honeypot", "/q/1/answer", with(good(answerTok), "website", "http://spam.example"), nil, 400, "Nothing was posted"},
		{"too long", "/q/1/answer", with(good(answerTok), "body", strings.Repeat("é", 20001)), nil, 413, "The text is too long: at most 20000 characters."},
		{"no address", "/q/1/answer", with(good(answerTok), "address", ""), nil, 400, "Please give your email address"},
		{"box unticked", "/q/1/answer", with(good(answerTok), "notify", ""), nil, 400, "Please give your email address"},
		{"bad address", "/q/1/answer", with(good(answerTok), "address", "Hal <hal@example.com>"), nil, 400, "does not look right"},
		{"forum address", "/q/1/answer", with(good(answerTok), "address", "ask@forum.test"), nil, 400, "does not look right"},
		{"no body", "/q/1/answer", with(good(answerTok), "body", " "), nil, 400, "Please write your text."},
		{"no title", "/ask", with(good(askTok), "title", ""), nil, 400, "Please give your question a title."},
		{"unknown category", "/ask", with(good(askTok), "category", "nope"), nil, 400, "Please choose one of the categories"},
		{"no such question", "/q/99/answer", good(answerTok), nil, 404, "no page here"},
	}
	for _, c := range cases {
		status, page := b.do("POST", c.path, c.form, c.hd)
		if status != c.status || !strings.Contains(page, c.says) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", c.name, status, c.status, c.says, page)
		}
	}
	if _, err := a.pool.Exec(context.Background(), `UPDATE posts SET state = 'closed' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if status, page := b.do("POST", "/q/1/answer", good(answerTok), nil); status != 409 || !strings.Contains(page, "This question is closed") {
		t.Errorf("closed question: %d\n%s", status, page)
	}
	waitDrained(t, a)
	if n := mtCount(t, a, `SELECT count(*) FROM inbound WHERE source = 'web'`); n != 0 {
		t.Errorf("%d refused web posts stored", n)
	}
	for _, m := range relay.all() {
		for _, to := range m.To {
			if to != "gus@example.org" {
				t.Errorf("mail sent to %s", to)
			}
		}
	}
}
