package web

import (
	"net/http"
	"net/http/httptest"
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
