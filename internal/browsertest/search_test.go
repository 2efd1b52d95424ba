package browsertest

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/postern/postern/internal/systemtest"
)

// TestSearchInBrowser: two members ask by email; in Chromium, typing a
// word of one question into the home page's search box (its label names
// it, its focus is visible) and pressing Enter opens the results, which
// list that question alone and keep the words in the box. The forum's
// feed, fetched over HTTP, parses, lists both and holds no address.
func TestSearchInBrowser(t *testing.T) {
	t.Parallel()
	f := startForum(t)
	systemtest.Member(t, f.a, f.relay, "ruth@example.org", "Ruth", "Dreams in colour")
	systemtest.Member(t, f.a, f.relay, "sam@example.net", "Sam", "Snoring partner")
	systemtest.WaitDrained(t, f.a)
	tb := newTab(t)
	tb.do(t, chromedp.Navigate(f.base()+"/"), chromedp.WaitVisible(`#search-q`))
	label := value(t, tb, chromedp.Evaluate[string](`document.querySelector('label[for="search-q"]').control.name + ' ' + document.querySelector('label[for="search-q"]').textContent`))
	if label != "q Search questions" {
		t.Errorf("search box label: %q", label)
	}
	tb.do(t, chromedp.Focus(`#search-q`))
	outline := value(t, tb, chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle + ' ' + document.activeElement.id`))
	if outline != "solid search-q" {
		t.Errorf("focused search box: outline and element %q, want a solid outline", outline)
	}
	tb.do(t, chromedp.SendKeys(`#search-q`, "colour"+kb.Enter), chromedp.WaitVisible(`#search-q[value="colour"]`))
	loc := value(t, tb, chromedp.Location())
	titles := value(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('main .qtitle a')].map(a => a.textContent)`))
	if !strings.HasSuffix(loc, "/search?q=colour") || strings.Join(titles, ",") != "Dreams in colour" {
		t.Errorf("after searching: at %s, results %q, want Dreams in colour alone", loc, titles)
	}
	tb.noErrors(t)
	feedHasNoAddress(t, f, []string{"Dreams in colour", "Snoring partner"}, []string{"ruth@example.org", "sam@example.net", "example.org", "example.net"})
}

// feedHasNoAddress fetches the forum's feed: it parses as Atom, lists
// the titles, holds no '@' and none of leaks, and a revalidation with
// its ETag is 304.
func feedHasNoAddress(t *testing.T, f *forum, titles, leaks []string) {
	t.Helper()
	resp, err := http.Get(f.base() + "/feed.atom")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("GET /feed.atom: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Entries []struct {
			Title string `xml:"title"`
		} `xml:"http://www.w3.org/2005/Atom entry"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("feed does not parse: %v", err)
	}
	var got []string
	for _, e := range doc.Entries {
		got = append(got, e.Title)
	}
	for _, want := range titles {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("feed lacks %q: %q", want, got)
		}
	}
	for _, leak := range append(leaks, "@") {
		if strings.Contains(strings.ToLower(string(raw)), leak) {
			t.Errorf("feed holds %q:\n%s", leak, raw)
		}
	}
	r, _ := http.NewRequest("GET", f.base()+"/feed.atom", nil)
	r.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("feed revalidation: %d, want 304", again.StatusCode)
	}
}
