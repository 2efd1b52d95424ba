package browsertest

import (
	"net/http"
	"testing"

	"github.com/postern/postern/internal/systemtest"
	"github.com/postern/postern/templates"
)

// TestQuestionPageRevalidation: a question page carries an ETag and
// Last-Modified and answers a matching revalidation with 304 and no body;
// a stale ETag gets the page. The stylesheet under its hash is cached for
// good.
func TestQuestionPageRevalidation(t *testing.T) {
	t.Parallel()
	f := startForum(t)
	systemtest.Member(t, f.a, f.relay, "ruth@example.org", "Ruth", "Dreams in colour")
	systemtest.WaitProcessed(t, f.a)
	do := func(path string, hdr map[string]string) *http.Response {
		t.Helper()
		r, _ := http.NewRequest("GET", f.base()+path, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := do("/q/1", nil)
	etag, mod := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	if first.StatusCode != 200 || etag == "" || mod == "" || first.Header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("first GET: %d ETag %q Last-Modified %q Cache-Control %q", first.StatusCode, etag, mod, first.Header.Get("Cache-Control"))
	}
	for _, h := range []map[string]string{{"If-None-Match": etag}, {"If-Modified-Since": mod}} {
		if resp := do("/q/1", h); resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != etag {
			t.Errorf("revalidation %v: %d, want 304", h, resp.StatusCode)
		}
	}
	if resp := do("/q/1", map[string]string{"If-None-Match": `"stale"`, "If-Modified-Since": mod}); resp.StatusCode != 200 {
		t.Errorf("stale ETag: %d, want the page", resp.StatusCode)
	}
	if resp := do("/q/2", nil); resp.StatusCode != 404 {
		t.Errorf("GET /q/2 (no such question): %d", resp.StatusCode)
	}
	if resp := do("/s/"+templates.StylesheetHash()+"/style.css", nil); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("hashed stylesheet: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if resp := do("/?page=2", nil); resp.StatusCode != 404 {
		t.Errorf("home page 2 of one question: %d, want 404", resp.StatusCode)
	}
}
