package threads

import (
	"strings"
	"testing"
)

func TestAddressSpans(t *testing.T) {
	text := "Mail me: Bob.B+x@Example.org. Or <carol@mail.example.com>, not @handle, not a@b, not x@.com; end user@host.io"
	var got []string
	for _, sp := range addressSpans(text) {
		got = append(got, text[sp[0]:sp[1]])
	}
	want := []string{"Bob.B+x@Example.org", "carol@mail.example.com", "user@host.io"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}
