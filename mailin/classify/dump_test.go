package classify

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/postern/postern/mailin/parse"
)

func TestDumpAll(t *testing.T) {
	if os.Getenv("DUMP") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob("/work/shared/corpus/discourse-emails/*.eml")
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		m, err := parse.Parse(raw, parse.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		v := Classify(m, envelope(m), "bar.com")
		t.Logf("%-50s %v %q", filepath.Base(f), v.Kind, v.Reason)
	}
}
