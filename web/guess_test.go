package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestBadTokenLinksLimited: a client network that opened testGuesses
// links whose token does not verify (confirm, unsubscribe, sign-in, GET
// or POST) gets 429 for every link, good or bad, for the rest of the
// hour; another network does not.
func TestBadTokenLinksLimited(t *testing.T) {
	f := newTestForum(t)
	bad := []struct{ method, path string }{
		{"GET", "/confirm/aaaaaaaaaaaaaaaaaaaaaaaaaa"}, {"POST", "/confirm/aaaaaaaaaaaaaaaaaaaaaaaaab"},
		{"GET", "/unsubscribe/aaaaaaaaaaaaaaaaaaaaaaaaac"}, {"POST", "/unsubscribe/aaaaaaaaaaaaaaaaaaaaaaaaad"},
		{"GET", "/signin/aaaaaaaaaaaaaaaaaaaaaaaaae"},
	}
	from := func(method, path, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader("scope=all"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec
	}
	for i, b := range bad[:testGuesses] {
		if rec := from(b.method, b.path, "198.51.100.7:4000"); rec.Code != http.StatusNotFound {
			t.Fatalf("bad link %d (%s %s): %d, want 404", i+1, b.method, b.path, rec.Code)
		}
	}
	for _, b := range bad {
		if rec := from(b.method, b.path, "198.51.100.7:4001"); rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "Too many") {
			t.Errorf("%s %s after %d bad links: %d, want 429", b.method, b.path, testGuesses, rec.Code)
		}
	}
	if rec := from("GET", bad[0].path, "203.0.113.9:4000"); rec.Code != http.StatusNotFound {
		t.Errorf("another network's link: %d, want 404", rec.Code)
	}
}

// TestBadTokenLimitBehindProxy: behind a trusted reverse proxy the limit
// counts the clients X-Forwarded-For names, not the proxy: one client's
// bad links do not block another's, and what a client writes in the
// header itself (before the proxy's hop) is not believed; a peer that is
// not a trusted proxy cannot choose its key by the header.
func TestBadTokenLimitBehindProxy(t *testing.T) {
	f := newTestForum(t)
	f.h.proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	get := func(peer string, xff ...string) int {
		r := httptest.NewRequest("GET", "/confirm/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil)
		r.RemoteAddr = peer
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec.Code
	}
	for i := range testGuesses {
		// The guesser forges a first hop; the proxy appends the real one.
		if code := get("127.0.0.1:5000", fmt.Sprintf("192.0.2.%d", i+1), "198.51.100.7"); code != http.StatusNotFound {
			t.Fatalf("bad link %d through the proxy: %d, want 404", i+1, code)
		}
	}
	if code := get("127.0.0.1:5000", "192.0.2.200, 198.51.100.7"); code != http.StatusTooManyRequests {
		t.Errorf("the guesser, a new forged hop: %d, want 429", code)
	}
	if code := get("127.0.0.1:5000", "203.0.113.9"); code != http.StatusNotFound {
		t.Errorf("another client through the same proxy: %d, want 404 (not blocked)", code)
	}
	for i := range testGuesses {
		get("203.0.113.50:5000", fmt.Sprintf("192.0.2.%d", 100+i))
	}
	if code := get("203.0.113.50:5001", "192.0.2.250"); code != http.StatusTooManyRequests {
		t.Errorf("a direct client changing its X-Forwarded-For: %d, want 429 (the header is not its to set)", code)
	}
	for _, c := range []struct{ peer, xff, want string }{
		{"127.0.0.1:1", "", "127.0.0.1:0"},
		{"127.0.0.1:1", "198.51.100.7", "198.51.100.7:0"},
		{"127.0.0.1:1", "198.51.100.7, 127.0.0.2", "198.51.100.7:0"},
		{"127.0.0.1:1", "garbage, 198.51.100.7", "198.51.100.7:0"},
		{"127.0.0.1:1", "198.51.100.7, garbage", "127.0.0.1:0"},
		{"127.0.0.1:1", "2001:db8:1:2:3::4", "[2001:db8:1:2::]:0"},
		{"198.51.100.9:1", "192.0.2.1", "198.51.100.9:0"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := f.h.clientKey(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: key %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}
