package web

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// parsedFeed is what the tests read of an Atom feed.
type parsedFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Author  struct {
			Name  string `xml:"name"`
			Email string `xml:"email"`
		} `xml:"author"`
		Link struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Summary string `xml:"summary"`
	} `xml:"entry"`
}

// getFeed requests the feed at path and parses it, failing t unless it
// is a 200 Atom document.
func (f *testForum) getFeed(t *testing.T, path string) (parsedFeed, []byte) {
	t.Helper()
	rec := f.get(t, path)
	wantStatus(t, path, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "application/atom+xml; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	var doc parsedFeed
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%s does not parse: %v\n%s", path, err, rec.Body)
	}
	return doc, rec.Body.Bytes()
}

// TestFeeds: the forum's feed has its 30 newest shown questions, newest
// first, each with its page's URL as id and link, the asker's display
// name only and the start of its body; a category's feed has that
// category's; an unknown category's is 404. No feed holds an '@' (no
// address, no email element), not even when a body had one. A matching
// revalidation is 304; the pages link the feeds.
func TestFeeds(t *testing.T) {
	t.Parallel()
	f := newTestForum(t)
	alice, anon := f.person(t, "Alice", "alice@example.org"), f.person(t, "", "anon@example.com")
	garden := f.category(t, "garden", "Garden")
	f.category(t, "empty", "Empty")
	first := f.question(t, alice, garden, "Garden fences", "Which wood lasts longest? "+strings.Repeat("Larch or cedar. ", 30))
	var shown []int64
	for i := range 31 {
		shown = append(shown, f.question(t, anon, 0, fmt.Sprintf("Question %d", i), "Write to me at [address removed]."))
	}
	f.post(t, "question", "held", alice, 0, 0, garden, "Held garden question", "held")
	f.post(t, "question", "hidden", alice, 0, 0, garden, "Hidden garden question", "hidden")
	closed := f.post(t, "question", "closed", alice, 0, 0, garden, "Closed garden question", "closed")
	slices.Reverse(shown)
	l := f.st.Links()

	doc, raw := f.getFeed(t, "/feed.atom")
	var ids []string
	for _, e := range doc.Entries {
		ids = append(ids, e.ID)
	}
	want := []string{l.QuestionPage(closed)}
	for _, id := range shown[:feedSize-1] {
		want = append(want, l.QuestionPage(id))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("forum feed entries %v, want %v", ids, want)
	}
	e := doc.Entries[1]
	if e.Link.Href != l.QuestionPage(shown[0]) || e.Link.Rel != "alternate" || e.Author.Name != "Anonymous" || e.Title != "Question 30" ||
		e.Summary != "Write to me at [address removed]." {
		t.Errorf("entry: %+v", e)
	}
	if doc.ID != l.FeedURL() || doc.Title != "New questions - "+f.st.Config().ForumName || doc.Updated == "" {
		t.Errorf("feed id %q title %q updated %q", doc.ID, doc.Title, doc.Updated)
	}
	if bytes.Contains(raw, []byte("@")) || bytes.Contains(raw, []byte("example.")) || bytes.Contains(raw, []byte("<email")) {
		t.Errorf("the feed holds an address or an email element:\n%s", raw)
	}

	cat, raw := f.getFeed(t, "/c/garden/feed.atom")
	if len(cat.Entries) != 2 || cat.Entries[0].ID != l.QuestionPage(closed) || cat.Entries[1].ID != l.QuestionPage(first) {
		t.Fatalf("garden feed: %s", raw)
	}
	if g := cat.Entries[1]; g.Author.Name != "Alice" || g.Author.Email != "" || !strings.HasPrefix(g.Summary, "Which wood lasts longest? Larch") ||
		!strings.HasSuffix(g.Summary, "…") || len(g.Summary) > 170 {
		t.Errorf("garden entry: %+v", g)
	}
	if cat.ID != l.CategoryFeedURL("garden") || cat.Title != "New questions in Garden - "+f.st.Config().ForumName {
		t.Errorf("garden feed id %q title %q", cat.ID, cat.Title)
	}
	if empty, _ := f.getFeed(t, "/c/empty/feed.atom"); len(empty.Entries) != 0 || empty.Updated != time.Unix(0, 0).UTC().Format(time.RFC3339) {
		t.Errorf("empty feed: %+v", empty)
	}
	if rec := f.get(t, "/c/nope/feed.atom"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown category's feed: %d", rec.Code)
	}

	// Revalidation.
	rec := f.get(t, "/c/garden/feed.atom")
	etag, mod := rec.Header().Get("ETag"), rec.Header().Get("Last-Modified")
	if etag == "" || mod == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("feed: ETag %q Last-Modified %q Cache-Control %q", etag, mod, rec.Header().Get("Cache-Control"))
	}
	for _, h := range [][]string{{"If-None-Match", etag}, {"If-Modified-Since", mod}} {
		if rec := f.get(t, "/c/garden/feed.atom", h...); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("revalidation %v: %d, want 304 without a body", h, rec.Code)
		}
	}
	if rec := f.get(t, "/c/garden/feed.atom", "If-None-Match", `"stale"`); rec.Code != http.StatusOK {
		t.Errorf("stale ETag: %d", rec.Code)
	}
	f.question(t, alice, garden, "A new garden question", "new")
	if rec := f.get(t, "/c/garden/feed.atom", "If-None-Match", etag); rec.Code != http.StatusOK {
		t.Errorf("after a new question, the old ETag: %d, want the feed", rec.Code)
	}

	// The pages link the feeds.
	forumLink := `<link rel="alternate" type="application/atom+xml" title="New questions" href="/feed.atom">`
	catLink := `<link rel="alternate" type="application/atom+xml" title="New questions in Garden - ` + f.st.Config().ForumName + `" href="/c/garden/feed.atom">`
	if home := f.get(t, "/").Body.String(); !strings.Contains(home, forumLink) || strings.Contains(home, catLink) {
		t.Errorf("home page's feed links:\n%s", home)
	}
	if page := f.get(t, "/c/garden").Body.String(); !strings.Contains(page, forumLink) || !strings.Contains(page, catLink) {
		t.Errorf("category page's feed links:\n%s", page)
	}
}
