package classify

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/mailin/parse"
)

// envelope stands in for the SMTP MAIL FROM the fixtures do not carry:
// the Return-Path header when present, else the From address.
func envelope(m *parse.Message) string {
	if rp := m.Header.Get("Return-Path"); rp != "" {
		return rp
	}
	if m.HasFrom {
		return m.From.Addr
	}
	return "unknown@example.invalid"
}

// fixture parses one file of ../shared/corpus/discourse-emails (relative
// to the repository root), skipping the test (failing it under CI) when the corpus is absent.
func fixture(t *testing.T, name string) *parse.Message {
	t.Helper()
	corpus := corpus.Dir(t, "discourse-emails")
	raw, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	m, err := parse.Parse(raw, parse.Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return m
}
