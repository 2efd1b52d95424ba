// Package corpus locates the shared corpus of real mail (../shared/corpus
// beside the repository root) for tests, and decides what a test does when
// it is missing: skip, or fail under CI=true (Missing).
package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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

// Dir returns the folder of one corpus suite ("discourse-emails",
// "email-reply-parser", "talon") in ../shared/corpus beside the repository
// root (see RepoRoot). When that folder is absent it calls Missing,
// which skips the test, or fails it under CI. It fails the test if no
// go.mod is found above the working directory.
//
// The corpus is shared and read-only: callers must not write to it.
// Dir only reads the file system, so, unlike the database helpers of
// this package, it does not require the calling package to run its tests
// through Main.
func Dir(t testing.TB, suite string) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "corpus", suite)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		Missing(t, "shared corpus suite %q not present at %s (expected in ../shared/corpus beside the repository root)", suite, dir)
	}
	return dir
}

// Missing is the one place that decides what a test does when
// shared corpus data it needs (a suite, a fixture) is absent: with CI set
// to true in the environment (any value strconv.ParseBool reads as true)
// it fails the test, since CI must run every corpus test; otherwise it
// skips the test. Either way the message (format and args, as fmt.Sprintf)
// says what is missing. Every test that reads ../shared/corpus goes
// through it (Dir does).
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s; CI=%s requires the shared corpus", msg, os.Getenv("CI"))
		return
	}
	t.Skipf("%s; skipping (set CI=true to make this a failure)", msg)
}

// Required reports whether a missing shared corpus fails tests
// rather than skipping them: true when the environment has CI=true.
func Required() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}
