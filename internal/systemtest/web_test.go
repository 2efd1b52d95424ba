package systemtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/web"
)

// TestEveryRouteHeaders requests every HTTP route (with real tokens from
// the mail the forum sent, and with bad ones) and checks the security
// headers of each response: the Content-Security-Policy (no script, no
// framing), nosniff, a referrer only within the forum, no-store on pages (their URLs carry
// tokens) and a private cache for downloads; every HTML page ends with the
// privacy line and has no inline style or script.
func TestEveryRouteHeaders(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	erin := "erin@example.com"
	confirm := pathOf(t, askSleepDiary(t, a, relay, erin))
	base := "http://" + a.httpAddr.String()
	type call struct {
		method, path, body string
		status             int
		kind               string // page, download, css, feed, plain
	}
	check := func(c call) {
		t.Helper()
		r, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		name := c.method + " " + regexp.MustCompile(`/[a-z2-7]{20,}`).ReplaceAllString(c.path, "/TOKEN")
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, c.status)
		}
		h := resp.Header
		wantCSP, wantCache := web.PageCSP, "no-store"
		switch c.kind {
		case "download":
			wantCSP, wantCache = web.DownloadCSP, "private, max-age=3600"
		case "css":
			wantCache = "public, max-age=86400"
		case "feed":
			wantCache = "no-cache"
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": wantCSP, "Cache-Control": wantCache,
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", name, k, got, want)
			}
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: CSP allows framing", name)
		}
		if c.kind != "page" {
			return
		}
		if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		if !bytes.Contains(body, []byte(templates.PrivacyLine)) {
			t.Errorf("%s: page lacks the privacy line:\n%s", name, body)
		}
		for _, bad := range []string{"<script", "style=", "<style"} {
			if bytes.Contains(body, []byte(bad)) {
				t.Errorf("%s: page has %q (the CSP forbids it)", name, bad)
			}
		}
	}
	check(call{"GET", "/healthz", "", 200, "plain"})
	check(call{"GET", "/readyz", "", 200, "plain"})
	check(call{"GET", "/style.css", "", 200, "css"})
	check(call{"GET", "/no/such/page", "", 404, "page"})
	check(call{"POST", "/style.css", "", 405, "page"})
	check(call{"GET", confirm, "", 200, "page"})
	check(call{"POST", "/confirm/aaaaaaaaaaaaaaaaaaaaaaaaaa", "", 404, "page"})
	check(call{"POST", confirm, "", 200, "page"})
	check(call{"GET", "/ask", "", 200, "page"})
	check(call{"POST", "/ask", "title=x", 403, "page"})
	check(call{"POST", "/q/1/answer", "body=x", 403, "page"})
	check(call{"GET", "/signin", "", 200, "page"})
	check(call{"POST", "/signin", "address=x", 403, "page"})
	check(call{"GET", "/signin/aaaaaaaaaaaaaaaaaaaaaaaaaa", "", 404, "page"})
	check(call{"POST", "/signin/aaaaaaaaaaaaaaaaaaaaaaaaaa", "", 404, "page"})
	check(call{"GET", "/settings", "", 200, "page"}) // to the sign-in form
	check(call{"GET", "/p/1/edit", "", 200, "page"}) // to the sign-in form
	for _, p := range []string{"/settings", "/signout", "/signout/everywhere", "/p/1/vote", "/p/1/best", "/p/1/edit"} {
		check(call{"POST", p, "body=x", 403, "page"})
	}

	posted, _ := relay.waitFor(t, erin, subjectHas("] My sleep diary"))
	ptext, _ := bodyText(t, posted)
	download := pathOf(t, regexp.MustCompile(`https?://\S+/a/\d+`).FindString(ptext))
	unsub := pathOf(t, regexp.MustCompile(`<(https?://[^>]+/unsubscribe/[^>]+)>`).FindStringSubmatch(header(posted, "List-Unsubscribe"))[1])
	check(call{"GET", download, "", 200, "download"})
	check(call{"GET", "/a/999999", "", 404, "page"})
	check(call{"GET", "/search?q=diary", "", 200, "page"})
	check(call{"GET", "/search?q=" + strings.Repeat("x", 201), "", 400, "page"})
	check(call{"GET", "/feed.atom", "", 200, "feed"})
	check(call{"GET", "/c/nope/feed.atom", "", 404, "page"})
	check(call{"GET", unsub, "", 200, "page"})
	check(call{"POST", unsub, "List-Unsubscribe=One-Click", 200, "page"})
	check(call{"POST", unsub, "scope=question", 200, "page"})
	check(call{"POST", "/unsubscribe/aaaaaaaaaaaaaaaaaaaaaaaaaa", "scope=all", 404, "page"})
}

// pathOf returns the path of a link found in a mail, failing when none was.
func pathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if link == "" || err != nil {
		t.Fatalf("no link found (%q, %v)", link, err)
	}
	return u.Path
}

// TestWelcomeLinkPageStopsAll: the footer link of the welcome mail stops
// everything, so its page offers that one button and says so; it does not
// offer to stop "this question" (the welcome is about none, and that
// button stopped everything anyway).
func TestWelcomeLinkPageStopsAll(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	addr := "wendy@example.net"
	follow(t, a, relay, addr)
	welcome, _ := relay.waitFor(t, addr, subjectHas("You are following the forum"))
	path, _ := listUnsub(t, welcome)
	resp, err := http.Get("http://" + a.httpAddr.String() + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET welcome link: status %d", resp.StatusCode)
	}
	page := string(body)
	if !strings.Contains(page, `value="all"`) || strings.Contains(page, `value="question"`) || strings.Contains(page, `value="follows"`) ||
		strings.Contains(page, "this question") {
		t.Fatalf("welcome link page offers more than stopping everything:\n%s", page)
	}
	postForm(t, a, path, "scope=all")
	var stopped bool
	if err := a.pool.QueryRow(context.Background(), `SELECT unsubscribed_at IS NOT NULL FROM people WHERE id = $1`, personID(t, a, addr)).Scan(&stopped); err != nil || !stopped {
		t.Fatalf("after the welcome link's form: stopped %v (%v), want everything stopped", stopped, err)
	}
}

// TestConfirmPages: a confirmation link that does not verify is refused
// on GET too (no Confirm button for a dead link); a follow's link says it
// starts new-question mail, not that a held message is published; and no
// page promises that later messages are published directly (without
// evidence a member's mail is held, see README "Who can post as whom").
func TestConfirmPages(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	base := "http://" + a.httpAddr.String()
	get := func(method, path string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if st, page := get("GET", "/confirm/aaaaaaaaaaaaaaaaaaaaaaaaaa"); st != http.StatusNotFound || strings.Contains(page, `method="post"`) {
		t.Errorf("GET of a bad confirmation link: status %d, want 404 without a form to post:\n%s", st, page)
	}
	addr := "fran@example.net"
	sendMail(t, a, addr, []string{"subscribe@forum.test"}, "From: <"+addr+">\nTo: subscribe@forum.test\nSubject: subscribe\nMessage-ID: <cp1@client.example>\n\n\n")
	req, _ := relay.waitFor(t, addr, subjectHas("Please confirm: receive new questions"))
	text, _ := bodyText(t, req)
	link := pathOf(t, regexp.MustCompile(`https?://\S+/confirm/\S+`).FindString(text))
	if st, page := get("GET", link); st != http.StatusOK || !strings.Contains(page, "new questions") || strings.Contains(page, "held message") {
		t.Errorf("GET of a follow's confirmation link: status %d, want a page about new questions:\n%s", st, page)
	}
	if st, page := get("POST", link); st != http.StatusOK || !strings.Contains(page, "new questions") || strings.Contains(page, "published directly") {
		t.Errorf("POST of a follow's confirmation link: status %d, want a page about new questions:\n%s", st, page)
	}
	// A follow that ended before its link was used stays ended, and the
	// page says so.
	gus := "gus@example.net"
	sendMail(t, a, gus, []string{"subscribe@forum.test"}, "From: <"+gus+">\nTo: subscribe@forum.test\nSubject: subscribe\nMessage-ID: <cp3@client.example>\n\n\n")
	req, _ = relay.waitFor(t, gus, subjectHas("Please confirm: receive new questions"))
	text, _ = bodyText(t, req)
	link = pathOf(t, regexp.MustCompile(`https?://\S+/confirm/\S+`).FindString(text))
	if _, err := a.pool.Exec(context.Background(), `UPDATE subscriptions SET ended_at = now() WHERE person_id = $1`, personID(t, a, gus)); err != nil {
		t.Fatal(err)
	}
	if st, page := get("POST", link); st != http.StatusOK || strings.Contains(page, "new questions will arrive") || !strings.Contains(page, "does not start them again") {
		t.Errorf("POST of an ended follow's confirmation link: status %d:\n%s", st, page)
	}
	erin := "erin@example.com"
	sendMail(t, a, erin, []string{"ask@forum.test"}, "From: Erin <"+erin+">\nTo: ask@forum.test\nSubject: Night sweats\nMessage-ID: <cp2@e.example>\n\nAny idea?\n")
	req, _ = relay.waitFor(t, erin, subjectHas("Please confirm your message"))
	text, _ = bodyText(t, req)
	link = pathOf(t, regexp.MustCompile(`https?://\S+/confirm/\S+`).FindString(text))
	if st, page := get("POST", link); st != http.StatusOK || !strings.Contains(page, "your message is published") || strings.Contains(page, "published directly") {
		t.Errorf("POST of a post's confirmation link: status %d:\n%s", st, page)
	}
}
