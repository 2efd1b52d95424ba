package web

import (
	"fmt"
	htmltemplate "html/template"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/postern/postern/templates"
)

// TestSearch: the search finds a shown question by a word of its title
// (stemmed), of its body, of a shown answer and of a comment on one,
// ranks a title match above a body-only one, never finds a held, queued
// or hidden post (nor the answers of a hidden question), pages its
// results, and answers an empty, a too long and a fruitless query with
// their sentences.
func TestSearch(t *testing.T) {
	t.Parallel()
	f := newTestForum(t)
	alice, bob := f.person(t, "Alice", "alice@example.org"), f.person(t, "Bob", "bob@example.com")
	dawnTitle := f.question(t, alice, 0, "Waking at dawn", "Every night I lie awake.")
	fences := f.question(t, bob, 0, "Garden fences", "Which wood lasts longest?")
	ans := f.post(t, "answer", "visible", alice, fences, fences, 0, "", "Larch is durable and cheap.")
	f.post(t, "comment", "visible", bob, fences, ans, 0, "", "Cedar smells nicer though.")
	dawnBody := f.question(t, bob, 0, "Morning birds", "The dawn chorus keeps me up.")
	// Never found: "marmalade" only in posts not shown.
	f.post(t, "question", "held", bob, 0, 0, 0, "Held marmalade", "marmalade")
	f.post(t, "question", "queued", bob, 0, 0, 0, "Queued marmalade", "marmalade")
	f.post(t, "answer", "hidden", bob, dawnTitle, dawnTitle, 0, "", "Hidden marmalade answer.")
	f.post(t, "comment", "held", bob, fences, ans, 0, "", "Held marmalade comment.")
	hidden := f.post(t, "question", "hidden", bob, 0, 0, 0, "Removed question", "nothing")
	f.post(t, "answer", "visible", alice, hidden, hidden, 0, "", "marmalade under a hidden question")
	closed := f.post(t, "question", "closed", alice, 0, 0, 0, "Closed question about jam", "jam")

	for _, c := range []struct {
		q    string
		want []int64
	}{
		{"fence", []int64{fences}}, // stemmed: "fences"
		{"longest wood", []int64{fences}},
		{"larch", []int64{fences}},
		{"cedar", []int64{fences}},
		{"dawn", []int64{dawnTitle, dawnBody}}, // the title match first, though older
		{"marmalade", nil},
		{"removed", nil},
		{"jam", []int64{closed}},
		{`"dawn chorus"`, []int64{dawnBody}},
		{"dawn -chorus", []int64{dawnTitle}},
		{"the", nil}, // a stop word only: nothing, no error
	} {
		rec := f.get(t, "/search?q="+strings.ReplaceAll(c.q, " ", "+"))
		wantStatus(t, c.q, rec, http.StatusOK)
		if got := listed(t, rec.Body.String()); !slices.Equal(got, c.want) {
			t.Errorf("search %q: %v, want %v", c.q, got, c.want)
		}
		if c.want == nil && !strings.Contains(rec.Body.String(), templates.SearchNoResults) {
			t.Errorf("search %q: no %q", c.q, templates.SearchNoResults)
		}
	}
	page := f.get(t, "/search?q=dawn").Body.String()
	if !strings.Contains(page, `value="dawn"`) || !strings.Contains(page, `<meta name="robots" content="noindex">`) {
		t.Errorf("the results page does not keep the query in its box or is indexable:\n%s", page)
	}
	rec := f.get(t, "/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
	wantStatus(t, "markup query", rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Errorf("the query is shown as markup:\n%s", rec.Body)
	}
	for _, p := range []string{"/search", "/search?q=", "/search?q=+%09+"} {
		rec := f.get(t, p)
		wantStatus(t, p, rec, http.StatusOK)
		if !strings.Contains(rec.Body.String(), templates.SearchEmptyQuery) || len(listed(t, rec.Body.String())) != 0 {
			t.Errorf("%s: not the empty search page:\n%s", p, rec.Body)
		}
	}
	long := f.get(t, "/search?q="+strings.Repeat("é", templates.SearchMaxChars+1))
	wantStatus(t, "too long", long, http.StatusBadRequest)
	if !strings.Contains(long.Body.String(), htmltemplate.HTMLEscapeString(templates.SearchTooLong)) {
		t.Errorf("too long a query: no message:\n%s", long.Body)
	}
	if rec := f.get(t, "/search?q="+strings.Repeat("é", templates.SearchMaxChars)); rec.Code != http.StatusOK {
		t.Errorf("a query of %d characters: %d", templates.SearchMaxChars, rec.Code)
	}
	if rec := f.get(t, "/search?q=a%00b%ff"); rec.Code != http.StatusOK {
		t.Errorf("a query with NUL and invalid UTF-8: %d", rec.Code)
	}
}

// TestSearchPaging: results come 20 a page, with links to the next and
// previous pages that keep the query; a page past the end is 404.
func TestSearchPaging(t *testing.T) {
	t.Parallel()
	f := newTestForum(t)
	p := f.person(t, "Pat", "pat@example.org")
	var all []int64
	for i := range 25 {
		all = append(all, f.question(t, p, 0, fmt.Sprintf("Zebra number %d", i), "stripes"))
	}
	slices.Reverse(all) // equal ranks: newest first
	one := f.get(t, "/search?q=zebra")
	wantStatus(t, "page 1", one, http.StatusOK)
	two := f.get(t, "/search?q=zebra&page=2")
	wantStatus(t, "page 2", two, http.StatusOK)
	got := append(listed(t, one.Body.String()), listed(t, two.Body.String())...)
	if !slices.Equal(got, all) || len(listed(t, one.Body.String())) != listSize {
		t.Errorf("pages 1 and 2: %v, want %v, %d on the first", got, all, listSize)
	}
	if !strings.Contains(one.Body.String(), `<a rel="next" href="/search?q=zebra&amp;page=2">More results</a>`) {
		t.Errorf("page 1 has no link to page 2:\n%s", one.Body)
	}
	if !strings.Contains(two.Body.String(), `<a rel="prev" href="/search?q=zebra">Previous results</a>`) || strings.Contains(two.Body.String(), `rel="next"`) {
		t.Errorf("page 2's links:\n%s", two.Body)
	}
	if rec := f.get(t, "/search?q=zebra&page=3"); rec.Code != http.StatusNotFound {
		t.Errorf("page 3: %d, want 404", rec.Code)
	}
	if rec := f.get(t, "/search?q=zebra&page=x"); rec.Code != http.StatusNotFound {
		t.Errorf("page x: %d, want 404", rec.Code)
	}
}

// TestSearchFormOnEveryPage: the home page, a list, the about page and a
// notice page carry the GET search form with its label.
func TestSearchFormOnEveryPage(t *testing.T) {
	t.Parallel()
	f := newTestForum(t)
	q := f.question(t, f.person(t, "Ann", "ann@example.org"), 0, "A question", "body")
	for _, p := range []string{"/", "/unanswered", "/about", fmt.Sprintf("/q/%d", q), "/no/such/page", "/search?q=x"} {
		page := f.get(t, p).Body.String()
		for _, want := range []string{`<form class="search" role="search" method="get" action="/search">`,
			`<label for="search-q">Search questions</label>`, `<input type="search" id="search-q" name="q"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", p, want)
			}
		}
	}
}
