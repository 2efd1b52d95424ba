package threads

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// keyStore is a Store with keys only: enough for buffers and sealing.
func keyStore(t *testing.T) *Store {
	t.Helper()
	keys, err := DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &Store{keys: keys}
}

// TestBufferFill reads messages of several sizes, in small and large
// reads: the message is what was read, each capacity is reserved before
// it is allocated and grows, and none goes past what the largest message
// needs.
func TestBufferFill(t *testing.T) {
	st := keyStore(t)
	for _, size := range []int{0, 1, 700, firstBuffer, 3*firstBuffer + 17, 2 << 20} {
		msg := bytes.Repeat([]byte("0123456789abcde\n"), size/16+1)[:size]
		for _, r := range []io.Reader{bytes.NewReader(msg), iotest.HalfReader(bytes.NewReader(msg))} {
			b := st.NewBuffer("sender@example.org")
			var reserved []int
			err := b.Fill(r, size, func(c int) error { reserved = append(reserved, c); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Message(), msg) || b.Len() != size {
				t.Fatalf("size %d: read %d bytes, not the message", size, b.Len())
			}
			limit := max(b.head+size+1+b.tag, b.head+b.tag+minRead)
			for i, c := range reserved {
				if i > 0 && c <= reserved[i-1] {
					t.Fatalf("size %d: capacities reserved %v do not grow", size, reserved)
				}
				if c > limit && c != firstBuffer {
					t.Fatalf("size %d: reserved %d, more than the %d the message needs", size, c, limit)
				}
			}
			if last := reserved[len(reserved)-1]; cap(b.buf) != last {
				t.Fatalf("size %d: capacity %d, reserved %d", size, cap(b.buf), last)
			}
			b.Discard()
			if b.Len() != 0 {
				t.Fatal("discarded buffer not empty")
			}
		}
	}
}

// TestBufferFillErrors returns the reader's error and reserve's.
func TestBufferFillErrors(t *testing.T) {
	st := keyStore(t)
	b := st.NewBuffer("")
	boom := errors.New("connection lost")
	r := io.MultiReader(strings.NewReader("Subject: x\r\n"), iotest.ErrReader(boom))
	if err := b.Fill(r, 1<<20, func(int) error { return nil }); !errors.Is(err, boom) {
		t.Fatalf("Fill = %v, want the reader's error", err)
	}
	if string(b.Message()) != "Subject: x\r\n" {
		t.Fatalf("read before the error: %q", b.Message())
	}
	b.Discard()
	full := errors.New("budget spent")
	calls := 0
	err := b.Fill(bytes.NewReader(make([]byte, 5*firstBuffer)), 10*firstBuffer, func(c int) error {
		if calls++; c > firstBuffer {
			return full
		}
		return nil
	})
	if !errors.Is(err, full) || cap(b.buf) != firstBuffer {
		t.Fatalf("Fill = %v with capacity %d, want reserve's error and no growth past %d", err, cap(b.buf), firstBuffer)
	}
}

// TestSealInPlace seals a message where it was read: the sealed value
// lies in the buffer's memory and opens to the sender and the message.
// An envelope sender longer than the buffer was made for still seals,
// from a copy.
func TestSealInPlace(t *testing.T) {
	st := keyStore(t)
	msg := []byte("Message-ID: <seal@example.org>\r\n\r\nbody\r\n")
	for _, tc := range []struct {
		made, env string
		inPlace   bool
	}{
		{"sender@example.org", "sender@example.org", true},
		{"sender@example.org", "", true},
		{"", "a-much-longer-sender@example.org", false},
	} {
		b := st.NewBuffer(tc.made)
		if err := b.Fill(bytes.NewReader(msg), len(msg), func(int) error { return nil }); err != nil {
			t.Fatal(err)
		}
		mem := b.buf[:cap(b.buf)]
		row, err := st.sealInbound(Envelope{MailFrom: tc.env, Source: SourceSMTP}, b)
		if err != nil {
			t.Fatal(err)
		}
		if row.size != len(msg) || row.msgID != "seal@example.org" {
			t.Fatalf("row size %d, message id %q", row.size, row.msgID)
		}
		sealed := bytes.Clone(row.sealed)
		plain, err := st.keys.OpenBytes(row.keyID, bytes.Clone(row.sealed), row.dedup)
		if err != nil {
			t.Fatal(err)
		}
		if from, raw := openInbound(plain); from != tc.env || !bytes.Equal(raw, msg) {
			t.Fatalf("opened %q, %q", from, raw)
		}
		// Sealed in place: the row's value is the buffer's memory.
		for i := range mem {
			mem[i] ^= 0xff
		}
		if inPlace := !bytes.Equal(row.sealed, sealed); inPlace != tc.inPlace {
			t.Errorf("sender %q in a buffer made for %q: sealed in place %v, want %v", tc.env, tc.made, inPlace, tc.inPlace)
		}
		b.Discard()
	}
}

// TestBufferSizeHint allocates the declared size at once (one reserve,
// no growth), and still reads a message longer than declared.
func TestBufferSizeHint(t *testing.T) {
	st := keyStore(t)
	const size = 3 << 20
	msg := bytes.Repeat([]byte("0123456789abcde\n"), size/16)
	for _, declared := range []int{size, size / 2} {
		b := st.NewBuffer("sender@example.org")
		b.SizeHint(declared)
		var reserved []int
		if err := b.Fill(bytes.NewReader(msg), 25<<20, func(c int) error { reserved = append(reserved, c); return nil }); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Message(), msg) {
			t.Fatalf("declared %d: read %d bytes, not the message", declared, b.Len())
		}
		if want := b.head + declared + 1 + b.tag; reserved[0] != want {
			t.Fatalf("declared %d: first capacity %d, want %d", declared, reserved[0], want)
		}
		if declared == size && len(reserved) != 1 {
			t.Fatalf("declared the size: capacities %v, want one", reserved)
		}
		b.Discard()
	}
}
