package mbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// readAll returns the raw messages of mailbox in, and the number of
// oversize messages skipped.
func readAll(t *testing.T, r *Reader) (msgs []*Message, oversize []*OversizeError) {
	t.Helper()
	for {
		m, err := r.Next()
		var oe *OversizeError
		switch {
		case errors.Is(err, io.EOF):
			return msgs, oversize
		case errors.As(err, &oe):
			oversize = append(oversize, oe)
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			msgs = append(msgs, m)
		}
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		garbage int64
	}{
		{name: "empty file", in: "", want: nil},
		{name: "garbage only", in: "not a mailbox\nat all\n", want: nil, garbage: 21},
		{
			name: "two messages, LF",
			in:   "From a@example.org Mon Jan  2 15:04:05 2006\nSubject: one\n\nbody one\n\nFrom b@example.org Mon Jan  2 15:05:05 2006\nSubject: two\n\nbody two\n",
			want: []string{"Subject: one\n\nbody one\n", "Subject: two\n\nbody two\n"},
		},
		{
			name: "CRLF",
			in:   "From a@example.org Mon Jan  2 15:04:05 2006\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom b Mon Jan  2 15:05:05 2006\r\nSubject: two\r\n\r\nx\r\n",
			want: []string{"Subject: one\r\n\r\nbody\r\n", "Subject: two\r\n\r\nx\r\n"},
		},
		{
			name: "escaped From in body (mboxrd)",
			in:   "From a Mon Jan  2 15:04:05 2006\nSubject: s\n\n>From the start\n>>From quoted\n> From not an escape\nFrom here on, no time so no split\n\nFrom b Mon Jan  2 15:05:05 2006\n\nz\n",
			want: []string{"Subject: s\n\nFrom the start\n>From quoted\n> From not an escape\nFrom here on, no time so no split\n", "\nz\n"},
		},
		{
			name: "no trailing newline",
			in:   "From a Mon Jan  2 15:04:05 2006\nSubject: s\n\nlast line",
			want: []string{"Subject: s\n\nlast line"},
		},
		{
			name:    "garbage before the first From line",
			in:      "junk\nFrom the editor\n\nFrom a Mon Jan  2 15:04:05 2006\nSubject: s\n\nb\n",
			want:    []string{"Subject: s\n\nb\n"},
			garbage: int64(len("junk\nFrom the editor\n\n")),
		},
		{
			name: "From_ line without blank line before it",
			in:   "From a Mon Jan  2 15:04:05 2006\nSubject: s\n\nb\nFrom c Sat Jan 01 00:00:00 +0000 2011\nSubject: t\n\nc\n",
			want: []string{"Subject: s\n\nb\n", "Subject: t\n\nc\n"},
		},
		{
			name: "empty message",
			in:   "From a Mon Jan  2 15:04:05 2006\n\nFrom b Mon Jan  2 15:04:05 2006\nSubject: s\n\nb\n",
			want: []string{"", "Subject: s\n\nb\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time too: every line is read in pieces.
			for _, src := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				r := NewReader(src, Options{})
				msgs, over := readAll(t, r)
				if len(over) > 0 {
					t.Fatalf("oversize: %v", over)
				}
				var got []string
				for _, m := range msgs {
					got = append(got, string(m.Raw))
				}
				if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
					t.Errorf("messages\n got %q\nwant %q", got, tc.want)
				}
				if r.Garbage() != tc.garbage {
					t.Errorf("garbage %d, want %d", r.Garbage(), tc.garbage)
				}
				if r.Offset() != int64(len(tc.in)) {
					t.Errorf("offset %d at the end, want %d", r.Offset(), len(tc.in))
				}
			}
		})
	}
}

func TestOffsetsAndSeparator(t *testing.T) {
	in := "From a Mon Jan  2 15:04:05 2006\nX: 1\n\nb\n\nFrom john at example.org  Tue Feb  3 10:00:00 2009\nX: 2\n\nc\n"
	msgs, _ := readAll(t, NewReader(strings.NewReader(in), Options{}))
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	if msgs[0].Offset != 0 || msgs[1].Offset != int64(strings.Index(in, "From john")) {
		t.Errorf("offsets %d %d", msgs[0].Offset, msgs[1].Offset)
	}
	if msgs[1].Separator != "From john at example.org  Tue Feb  3 10:00:00 2009" {
		t.Errorf("separator %q", msgs[1].Separator)
	}
	d, ok := msgs[1].SeparatorDate()
	if !ok || !d.Equal(time.Date(2009, 2, 3, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("separator date %v %v", d, ok)
	}
}

func TestSeparatorDate(t *testing.T) {
	for line, want := range map[string]time.Time{
		"From MAILER-DAEMON Fri Jul  8 12:08:34 2011":                            time.Date(2011, 7, 8, 12, 8, 34, 0, time.UTC),
		"From 1234@xxx Sat Jan 01 00:00:00 +0000 2011":                           time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC),
		"From 3b18e512dba79e4c8300dd08aeb37f8e728b8dad Mon Sep 17 00:00:00 2001": time.Date(2001, 9, 17, 0, 0, 0, 0, time.UTC),
		"From someone nonsense":                                                  {},
	} {
		got, ok := separatorDate(line)
		if ok != !want.IsZero() || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", line, got, ok, want)
		}
	}
}

func TestOversizeSkipped(t *testing.T) {
	big := strings.Repeat("x", 5000) + "\n" + strings.Repeat("long line without end ", 10000)
	in := "From a Mon Jan  2 15:04:05 2006\nSubject: small\n\nok\n\n" +
		"From b Mon Jan  2 15:04:05 2006\nSubject: big\n\n" + big + "\n\n" +
		"From c Mon Jan  2 15:04:05 2006\nSubject: after\n\nok\n"
	r := NewReader(strings.NewReader(in), Options{MaxMessageBytes: 4096})
	msgs, over := readAll(t, r)
	if len(msgs) != 2 || !bytes.Contains(msgs[1].Raw, []byte("after")) {
		t.Fatalf("messages around the oversize one: %d", len(msgs))
	}
	if len(over) != 1 || over[0].Offset != int64(strings.Index(in, "From b")) || over[0].Size < int64(len(big)) {
		t.Fatalf("oversize: %+v", over)
	}
	if cap(r.scratch) > 2*4096+readBufferSize {
		t.Errorf("scratch grew to %d bytes past the limit", cap(r.scratch))
	}
}

// TestReadError checks that an error of the underlying reader is returned
// (and again on the next call), not taken for the end of the mailbox.
func TestReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	src := io.MultiReader(strings.NewReader("From a Mon Jan  2 15:04:05 2006\nSubject: s\n\npartial"), iotest.ErrReader(boom))
	r := NewReader(src, Options{})
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("first Next: %v", err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("second Next: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("From a Mon Jan  2 15:04:05 2006\nSubject: s\n\n>From x\n\nFrom b Mon Jan  2 15:05:05 2006\n\ny"))
	f.Add([]byte("garbage\r\nFrom a Mon Jan  2 15:04:05 2006\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), Options{MaxMessageBytes: 64})
		total := 0
		for i := 0; ; i++ {
			m, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var oe *OversizeError
			if errors.As(err, &oe) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Raw) > 64 {
				t.Fatalf("message of %d bytes over the limit", len(m.Raw))
			}
			total += len(m.Raw)
			if i > len(in) {
				t.Fatal("more messages than bytes")
			}
		}
		if total > len(in) || r.Offset() != int64(len(in)) {
			t.Fatalf("read %d bytes of messages, offset %d, from %d", total, r.Offset(), len(in))
		}
	})
}

// BenchmarkReader reads a mailbox of 3 KB messages.
func BenchmarkReader(b *testing.B) {
	var mb bytes.Buffer
	body := strings.Repeat("> quoted text of a reply, as lists carry plenty of it\n", 55)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&mb, "From m%d@example.org Mon Jan  2 15:04:05 2006\nMessage-ID: <m%d@example.org>\nSubject: Re: topic\n\n>From the top\n%s\n", i, i, body)
	}
	in := mb.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(in), Options{})
		n := 0
		for {
			_, err := r.Next()
			if err != nil {
				break
			}
			n++
		}
		if n != 1000 {
			b.Fatalf("%d messages", n)
		}
	}
}
