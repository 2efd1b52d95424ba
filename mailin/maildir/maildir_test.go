package maildir

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/mailin/mbox"
)

// TestReader: the messages of cur/ and new/ come oldest first by the
// delivery time of their names (then their file time), tmp/ and dot
// files are skipped, an oversize file is reported and passed, offsets
// add up, and the From_ line carries the file's time.
func TestReader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mtime := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	write := func(sub, name, body string) {
		p := filepath.Join(dir, sub, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write("new", "1700000300.M3.host", "Subject: third\n\n3\n")
	write("cur", "1700000100.M1.host:2,S", "Subject: first\n\n1\n")
	write("cur", "1700000200.M2.host:2,RS", "Subject: big\n\n"+strings.Repeat("x", 100)+"\n")
	write("cur", "no-stamp", "Subject: by file time\n\n0\n") // 2024: after the others
	write("tmp", "1700000000.M0.host", "Subject: in delivery\n\n")
	write("cur", ".hidden", "Subject: dot file\n\n")

	r, err := Open(dir, 60)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 4 {
		t.Fatalf("Len %d, want 4", r.Len())
	}
	var got []string
	var off int64
	for {
		m, err := r.Next()
		var over *mbox.OversizeError
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &over) {
			got = append(got, "oversize")
			off += over.Size
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Offset != off {
			t.Errorf("offset %d, want %d", m.Offset, off)
		}
		off += int64(len(m.Raw))
		if d, ok := m.SeparatorDate(); !ok || !d.Equal(mtime) {
			t.Errorf("separator %q: date %v %v", m.Separator, d, ok)
		}
		subject, _, _ := strings.Cut(strings.TrimPrefix(string(m.Raw), "Subject: "), "\n")
		got = append(got, subject)
	}
	if want := "first oversize third by file time"; strings.Join(got, " ") != want {
		t.Errorf("read %q, want %q", strings.Join(got, " "), want)
	}
	if r.Offset() != r.Size() || r.Garbage() != 0 {
		t.Errorf("offset %d of %d bytes, garbage %d", r.Offset(), r.Size(), r.Garbage())
	}
	if _, err := Open(t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), "not a Maildir") {
		t.Errorf("Open of an empty folder: %v", err)
	}
}
