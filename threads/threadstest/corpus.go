package threadstest

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the repository root: the nearest folder at or above the
// working directory that holds go.mod. It fails the test when there is none.
//
// Unlike the database helpers of this package, RepoRoot only looks at the
// file system, so its callers need not run their tests through Main.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the working directory; cannot locate the repository root")
		}
		dir = parent
	}
}

// CorpusDir returns the folder of one corpus suite ("discourse-emails",
// "email-reply-parser", "talon") in ../shared/corpus beside the repository
// root (see RepoRoot), or skips the test (t.Skipf, with a message naming
// the path) when that folder is absent. It fails the test if no go.mod is
// found above the working directory.
//
// The corpus is shared and read-only: callers must not write to it.
// CorpusDir only reads the file system, so, unlike the database helpers of
// this package, it does not require the calling package to run its tests
// through Main.
func CorpusDir(t testing.TB, suite string) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "corpus", suite)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("shared corpus suite %q not present at %s (expected in ../shared/corpus beside the repository root); skipping", suite, dir)
	}
	return dir
}
