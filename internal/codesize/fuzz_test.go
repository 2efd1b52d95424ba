package codesize

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
)

// TestMakeFuzzListsEveryTarget fails when a fuzz target (func FuzzX in a
// test file) is missing from the Makefile's FUZZ_TARGETS, or the list
// names one that does not exist: `make fuzz` runs them all.
func TestMakeFuzzListsEveryTarget(t *testing.T) {
	root := corpus.RepoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(\./[\w/-]+):(Fuzz\w+)`).FindAllStringSubmatch(string(mk), -1) {
		listed[strings.TrimPrefix(m[1], "./")+":"+m[2]] = true
	}
	found := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skipped[d.Name()] {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			found[filepath.ToSlash(rel)+":"+m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("no fuzz target found: the walk is broken")
	}
	for k := range found {
		if !listed[k] {
			t.Errorf("fuzz target %s is not in the Makefile's FUZZ_TARGETS", k)
		}
	}
	for k := range listed {
		if !found[k] {
			t.Errorf("FUZZ_TARGETS lists %s, which does not exist", k)
		}
	}
}
