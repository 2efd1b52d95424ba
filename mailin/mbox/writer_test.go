package mbox

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestWriterRoundTrip: what Writer writes, Reader reads back unchanged,
// lines starting "From " or ">From " included, with the From_ line's
// date.
func TestWriterRoundTrip(t *testing.T) {
	t.Parallel()
	msgs := [][]byte{
		[]byte("Subject: one\n\nFrom here on, trouble.\n>From quoted.\n>>From deeper.\n"),
		[]byte("Subject: two\r\n\r\nCRLF body\r\n"),
		[]byte("Subject: three\n\nno final newline"),
	}
	date := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, m := range msgs {
		if err := w.WriteMessage("-", date, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(buf.Bytes()), Options{})
	for i, want := range msgs {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, buf.String())
		}
		if i == 2 {
			want = append(want, '\n')
		}
		if !bytes.Equal(m.Raw, want) {
			t.Errorf("message %d read back as %q, want %q", i, m.Raw, want)
		}
		if d, ok := m.SeparatorDate(); !ok || !d.Equal(date) {
			t.Errorf("message %d separator date %v %v", i, d, ok)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last: %v", err)
	}
}
