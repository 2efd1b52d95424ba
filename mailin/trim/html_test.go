package trim

import (
	"strings"
	"testing"
)

// The HTML below is written for these tests: minimal skeletons of the
// structure each client produces, not copies of real messages.
func TestHTML(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		keep       []string // substrings that must remain
		gone       []string // substrings that must be elided
		noneElided bool
	}{
		{
			name: "gmail quote and signature",
			in:   `<div dir="ltr">Yes, water in the morning.<br><div class="gmail_signature" data-smartmail="gmail_signature">Bob</div></div><br><div class="gmail_quote"><div class="gmail_attr">On Mon, Ana wrote:</div><blockquote class="gmail_quote">When?</blockquote></div>`,
			keep: []string{"Yes, water in the morning."},
			gone: []string{"Bob", "On Mon, Ana wrote:", "When?"},
		},
		{
			name: "gmail_extra",
			in:   `<div>Reply</div><div class="gmail_extra"><br><div class="gmail_quote">old</div></div>`,
			keep: []string{"Reply"},
			gone: []string{"old"},
		},
		{
			name: "apple blockquote type=cite and everything after",
			in:   `<body><div>Sure.</div><div><br><blockquote type="cite"><div>On 2 Jan, Ana wrote:</div>question</blockquote></div><div>trailing</div></body>`,
			keep: []string{"Sure."},
			gone: []string{"question", "trailing"},
		},
		{
			name: "thunderbird cite prefix and moz-signature",
			in:   `<p>Agreed.</p><div class="moz-signature">-- <br>Bob</div><div class="moz-cite-prefix">On 1/2/24 Ana wrote:<br></div><blockquote type="cite">q</blockquote>`,
			keep: []string{"Agreed."},
			gone: []string{"Bob", "Ana wrote", ">q<"},
		},
		{
			name: "outlook web divRplyFwdMsg",
			in:   `<div>Thanks!</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Ana</div><div>old body</div>`,
			keep: []string{"Thanks!"},
			gone: []string{"From:", "old body"},
		},
		{
			name: "outlook desktop border-top separator",
			in:   `<div class="WordSection1"><p>Done.</p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in"><p><b>From:</b> Ana<br><b>Sent:</b> Monday</p></div></div><p>old</p></div>`,
			keep: []string{"Done."},
			gone: []string{"Sent:", "old"},
		},
		{
			name:       "border-top without From is not a separator",
			in:         `<div style="border-top:solid 1px #ccc">Just a styled box</div>`,
			keep:       []string{"Just a styled box"},
			noneElided: true,
		},
		{
			name: "outlook mac OLK_SRC_BODY_SECTION",
			in:   `<div>Reply</div><span id="OLK_SRC_BODY_SECTION"><div>From: Ana</div></span>`,
			keep: []string{"Reply"},
			gone: []string{"From: Ana"},
		},
		{
			name: "exchange messageReplySection",
			in:   `<div>Ok</div><div class="messageReplySection">old</div>`,
			keep: []string{"Ok"},
			gone: []string{"old"},
		},
		{
			name: "yahoo generated class",
			in:   `<div class="ydpa1b2c3d4yahoo-style-wrap">Hi there</div><div id="yahoo_quoted_123" class="ydp9f8e7d6yahoo_quoted"><div>On Monday, Ana wrote:</div></div>`,
			keep: []string{"Hi there"},
			gone: []string{"Ana wrote"},
		},
		{
			name: "zimbra hr#zwchr",
			in:   `<div>Hello</div><hr id="zwchr"><div><b>From: </b>bob</div>`,
			keep: []string{"Hello"},
			gone: []string{"bob"},
		},
		{
			name:       "nothing to remove returns input unchanged",
			in:         `<p>Plain <b>reply</b></p>`,
			keep:       []string{`<p>Plain <b>reply</b></p>`},
			noneElided: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, elided := HTML(tt.in)
			for _, k := range tt.keep {
				if !strings.Contains(kept, k) {
					t.Errorf("kept lacks %q:\n%s", k, kept)
				}
				if strings.Contains(elided, k) {
					t.Errorf("elided holds %q", k)
				}
			}
			for _, g := range tt.gone {
				if strings.Contains(kept, g) {
					t.Errorf("kept still holds %q:\n%s", g, kept)
				}
				if !strings.Contains(elided, g) {
					t.Errorf("elided lacks %q:\n%s", g, elided)
				}
			}
			if tt.noneElided && elided != "" {
				t.Errorf("elided = %q, want empty", elided)
			}
		})
	}
}

// TestHTMLDeepNesting checks that deep input neither panics nor exhausts
// the stack. Beyond the parser's depth limit the input comes back unchanged.
func TestHTMLDeepNesting(t *testing.T) {
	in := strings.Repeat("<div>", 400) + "x" + `<blockquote type="cite">q</blockquote>`
	kept, elided := HTML(in)
	if !strings.Contains(kept, "x") || !strings.Contains(elided, "q") {
		t.Errorf("depth 400: kept has x = %v, elided has q = %v", strings.Contains(kept, "x"), strings.Contains(elided, "q"))
	}
	huge := strings.Repeat("<div>", 100000) + "x"
	if kept, _ := HTML(huge); !strings.Contains(kept, "x") {
		t.Errorf("depth 100000 lost the text")
	}
}

func FuzzHTML(f *testing.F) {
	f.Add(`<div>a</div><div class="gmail_quote">b</div>`)
	f.Add(`<blockquote type=cite><p>x`)
	f.Fuzz(func(t *testing.T, s string) {
		HTML(s)
	})
}
