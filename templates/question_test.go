package templates

import (
	"strings"
	"testing"
	"time"
)

// TestQuestionPageEscapesHostileText renders a thread whose every text is
// hostile: tags, javascript: and data: links, entities and quotes stay
// text; only http(s) URLs become links, with rel="nofollow ugc noopener".
func TestQuestionPageEscapesHostileText(t *testing.T) {
	s := mustNew(t)
	evil := "<script>alert(1)</script> &lt;b&gt; \"q\" 'a'\njavascript:alert(2) data:text/html,<b>x</b>\n\nsee https://example.org/a?b=1&c=<2> now."
	post := PostView{Anchor: "p1", Author: "<b>Mallory</b>", Created: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Body: evil,
		Files:  []FileLink{{Name: "<img src=x onerror=alert(3)>.txt", Size: "1 KB", URL: "/a/7"}},
		Quoted: "> <svg onload=alert(5)>\n-- \nMallory"}
	p := QuestionPage{Title: "<script>t</script>", Category: "<i>cat</i>", CategorySlug: "c\"at", Closed: true,
		Description: "\"><script>d</script>", Tags: []string{"<u>t</u>", "a b"}, Question: post,
		Answers:  []AnswerView{{PostView: PostView{Anchor: "p2", Author: "Bob", Body: "javascript:alert(4)"}, Best: true, Comments: []PostView{{Anchor: "p3", Author: "C", Body: "<iframe>"}}}},
		Comments: []PostView{{Anchor: "p4", Author: "D", Body: "&amp;"}}}
	html, err := s.Page("question", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<b>", "<i>", "<img", "<iframe", "<svg", "<u>", `href="javascript`, `href="data`, "onerror=alert(3)>"} {
		if strings.Contains(html, bad) {
			t.Errorf("page contains %q:\n%s", bad, html)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;", "&amp;lt;b&amp;gt;", "&amp;amp;",
		`<a href="https://example.org/a?b=1&amp;c=" rel="nofollow ugc noopener">https://example.org/a?b=1&amp;c=</a>&lt;2&gt; now.`,
		`id="p1"`, `id="p2"`, `id="p3"`, `id="p4"`, "This question is closed", "Best answer", `in <a href="/c/c%22at">&lt;i&gt;cat&lt;/i&gt;</a>`,
		`<meta name="description" content="&#34;&gt;&lt;script&gt;d&lt;/script&gt;">`, `<a class="tag" href="/t/%3Cu%3Et%3C%2Fu%3E">&lt;u&gt;t&lt;/u&gt;</a>`,
		`<a class="tag" href="/t/a%20b">a b</a>`, "<summary>show quoted text</summary>", "&gt; &lt;svg onload=alert(5)&gt;",
		`<a href="/a/7" rel="nofollow" download>&lt;img src=x onerror=alert(3)&gt;.txt</a>`, "2 Jan 2026 03:04 UTC", PrivacyLine,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "style=") || strings.Contains(html, "<script") {
		t.Errorf("inline style or script")
	}
}
