package links

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestEveryLinkHasARoute serves Routes on a mux and requests every URL
// Links builds: each one matches a registered pattern (not the mux's 404).
func TestEveryLinkHasARoute(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range Routes() {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	}
	l := New("http://forum.test/")
	for _, u := range []string{l.QuestionPage(7), l.Post(7, 9), l.UnsubscribePage("abc"), l.ConfirmPage("abc"), l.Download(3), l.StylesheetURL(),
		l.StylesheetAt("abc"), l.HomePage(1), l.HomePage(2), l.UnansweredPage(3), l.CategoryPage("sleep", 2), l.TagPage("c++", 1), l.AboutPage(),
		l.SearchPage("", 1), l.SearchPage("a b", 2), l.FeedURL(), l.CategoryFeedURL("sleep")} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
		if rec.Code != 299 {
			t.Errorf("GET %s: %d, no route", u, rec.Code)
		}
	}
	if got := l.Post(7, 9); got != "http://forum.test/q/7#p9" {
		t.Errorf("Post = %q", got)
	}
	if got := (Links{}).TagPage("a b", 2); got != "/t/a%20b?page=2" {
		t.Errorf("tag page = %q", got)
	}
	for q, want := range map[[2]string]string{
		{"", "1"}: "/search", {"", "2"}: "/search?page=2", {"sleep & wake", "1"}: "/search?q=sleep+%26+wake",
		{"x", "3"}: "/search?q=x&page=3",
	} {
		n := int(q[1][0] - '0')
		if got := (Links{}).SearchPage(q[0], n); got != want {
			t.Errorf("SearchPage(%q, %d) = %q, want %q", q[0], n, got, want)
		}
	}
	if got := (Links{}).CategoryFeedURL("a b"); got != "/c/a%20b/feed.atom" {
		t.Errorf("category feed = %q", got)
	}
	if got := (Links{}).HomePage(1); got != "/" {
		t.Errorf("home page 1 = %q", got)
	}
	if got := (Links{}).UnsubscribePage("a/b"); got != "/unsubscribe/a%2Fb" {
		t.Errorf("relative unsubscribe = %q", got)
	}
}
