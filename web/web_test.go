package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/postern/postern/templates"
)

// TestUnroutedPages: a path no route serves is the forum's 404 page and a
// route asked with another method its 405 page (with Allow), both HTML
// with the privacy line and the security headers, never net/http's plain
// text. (These answers never reach the store, which is nil here.)
func TestUnroutedPages(t *testing.T) {
	tmpl, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	h := New(nil, tmpl, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	for _, c := range []struct {
		method, path string
		status       int
		says, allow  string
	}{
		{"GET", "/no/such/page", http.StatusNotFound, "Page not found", ""},
		{"GET", "/q/x", http.StatusNotFound, "Page not found", ""},
		{"POST", "/", http.StatusMethodNotAllowed, "Not allowed", "GET, HEAD"},
		{"POST", "/style.css", http.StatusMethodNotAllowed, "Not allowed", "GET, HEAD"},
		{"DELETE", "/unsubscribe/x", http.StatusMethodNotAllowed, "Not allowed", "GET, HEAD, POST"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		body := rec.Body.String()
		name := c.method + " " + c.path
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", name, rec.Code, c.status)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		if !strings.Contains(body, "<h1>"+c.says+"</h1>") || !strings.Contains(body, templates.PrivacyLine) {
			t.Errorf("%s: page lacks %q or the privacy line:\n%s", name, c.says, body)
		}
		if got := rec.Header().Get("Allow"); got != c.allow {
			t.Errorf("%s: Allow %q, want %q", name, got, c.allow)
		}
		if rec.Header().Get("Content-Security-Policy") != PageCSP {
			t.Errorf("%s: no page CSP", name)
		}
	}
	// A path that is not canonical is still redirected, as net/http does.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/q//1", nil))
	if rec.Code/100 != 3 || rec.Header().Get("Location") != "/q/1" {
		t.Errorf("GET /q//1: %d to %q, want a redirect to /q/1", rec.Code, rec.Header().Get("Location"))
	}
}
