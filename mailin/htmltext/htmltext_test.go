package htmltext

import "testing"

func TestConvert(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain text", "hello   world", "hello world"},
		{"paragraphs", "<p>One</p><p>Two\nlines</p>", "One\n\nTwo lines"},
		{"br", "a<br>b<br><br>c", "a\nb\n\nc"},
		{"divs as lines", "<div>first</div><div>second</div><div><br></div><div>third</div>", "first\nsecond\n\nthird"},
		{"script and style dropped", "<html><head><title>T</title><style>p{color:red}</style></head><body><script>alert('x')</script><p>Visible</p></body></html>", "Visible"},
		{"comments dropped", "a<!-- secret -->b", "ab"},
		{"entities", "<p>Tom &amp; Jerry &lt;3 &eacute;&nbsp;x</p>", "Tom & Jerry <3 é x"},
		{"link with text", `<a href="https://example.com/x">the site</a>`, "the site (https://example.com/x)"},
		{"link text is url", `<a href="http://example.com/">http://example.com</a>`, "http://example.com"},
		{"link no text", `<a href="https://example.com/a"></a>`, "https://example.com/a"},
		{"mailto", `write to <a href="mailto:x@example.com">me</a>.`, "write to me."},
		{"javascript", `<a href="javascript:void(0)">click</a>`, "click"},
		{"unordered list", "<ul><li>a</li><li>b</li></ul>", "- a\n- b"},
		{"ordered list", "<p>Steps:</p><ol><li>first</li><li>second</li></ol><p>done</p>", "Steps:\n\n1. first\n2. second\n\ndone"},
		{"nested list", "<ul><li>a<ul><li>a1</li></ul></li><li>b</li></ul>", "- a\n  - a1\n- b"},
		{"pre verbatim", "<p>code:</p><pre>  x := 1\n  if x {\n    y()\n  }</pre>", "code:\n\n  x := 1\n  if x {\n    y()\n  }"},
		{"heading", "<h1>Title</h1>text", "Title\n\ntext"},
		{"link in quote", "<blockquote><a href=\"https://x.example/a\">https://x.example/a</a></blockquote>", "> https://x.example/a"},
		{"blockquote", "<p>reply</p><blockquote><p>quoted one</p><p>quoted two</p></blockquote><p>after</p>", "reply\n\n> quoted one\n>\n> quoted two\n\nafter"},
		{"table", "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>", "A | B\n1 | 2"},
		{"emphasis", "This is the <b>body</b> of the <i>email</i>.", "This is the body of the email."},
		{"hidden", `<span style="display: none">preheader</span>Hi`, "Hi"},
		{"no markup leaks", "<div><unknown-tag attr=1>x</unknown-tag><img src=a.png></div>", "x"},
		{"img alt", `<p>Before <img src="cid:1" alt="smile"> after</p>`, "Before smile after"},
		{"blank runs", "<p>a</p><p></p><p></p><br><br><p>b</p>", "a\n\nb"},
		{"inline code", "use <code>go test</code> now", "use go test now"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Convert(c.in); got != c.want {
				t.Errorf("Convert(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}
