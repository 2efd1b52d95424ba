package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestShorten: a statement is cut at a character boundary.
func TestShorten(t *testing.T) {
	q := strings.Repeat("a", 89) + "é and more"
	if got := shorten(q, 90); got != strings.Repeat("a", 89)+"…" || !utf8.ValidString(got) {
		t.Errorf("shorten = %q", got)
	}
	if got := shorten("short", 90); got != "short" {
		t.Errorf("shorten(short) = %q", got)
	}
}
