package parse

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
)

// emlFiles lists the .eml files under dir, recursively, sorted.
func emlFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".eml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	sort.Strings(files)
	return files
}

// readFixture reads one discourse fixture by file name.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus.Dir(t, "discourse-emails"), name))
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
}

func TestParseCorpus(t *testing.T) {
	for _, c := range []struct {
		name string
		want int
	}{{"discourse-emails", 151}, {"talon", 0}} {
		dir := corpus.Dir(t, c.name)
		files := emlFiles(t, dir)
		ok := 0
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			m, err := Parse(raw, Limits{})
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
				continue
			}
			if m.MessageID == "" {
				t.Errorf("%s: empty MessageID", filepath.Base(f))
			}
			if testing.Verbose() && len(m.Warnings) > 0 {
				t.Logf("%s: warnings %q", filepath.Base(f), m.Warnings)
			}
			ok++
		}
		t.Logf("parse corpus %s: %d/%d parsed without error", c.name, ok, len(files))
		if c.want > 0 && len(files) != c.want {
			t.Errorf("corpus %s: found %d files, want %d", c.name, len(files), c.want)
		}
	}
}
