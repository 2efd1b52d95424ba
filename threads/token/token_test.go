package token

import (
	"errors"
	"strings"
	"testing"
)

func newSigner(t *testing.T, key string) *Signer {
	t.Helper()
	s, err := NewSigner([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTripAndCaseFolding(t *testing.T) {
	s := newSigner(t, "0123456789abcdef0123456789abcdef")
	cases := []Token{
		{Reply, 1, 1, 0},
		{Reply, 123456789, 987654321, 3},
		{Bounce, 1 << 40, 1 << 40, 1 << 20},
	}
	for _, tc := range cases {
		str := s.Encode(tc)
		if str != strings.ToLower(str) {
			t.Errorf("token %q is not lower case", str)
		}
		if l := len("reply+" + str); l > 64 {
			t.Errorf("local part %d chars > 64", l)
		}
		for _, variant := range []string{str, strings.ToUpper(str)} {
			got, err := s.Verify(variant, tc.Purpose)
			if err != nil {
				t.Fatalf("Verify(%q): %v", variant, err)
			}
			if got != tc {
				t.Errorf("got %+v, want %+v", got, tc)
			}
		}
	}
}

func TestRejects(t *testing.T) {
	s := newSigner(t, "0123456789abcdef0123456789abcdef")
	other := newSigner(t, "another-secret-key-of-32-bytes!!")
	good := s.Encode(Token{Reply, 42, 7, 0})
	flip := []byte(good)
	if flip[3] == 'a' {
		flip[3] = 'b'
	} else {
		flip[3] = 'a'
	}
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"truncated", good[:len(good)-4], ErrBadMAC},
		{"too short", good[:8], ErrMalformed},
		{"tampered", string(flip), ErrBadMAC},
		{"foreign key", other.Encode(Token{Reply, 42, 7, 0}), ErrBadMAC},
		{"not base32", "!!!!" + good[4:], ErrMalformed},
		{"too long", strings.Repeat("a", MaxLen+1), ErrMalformed},
		{"wrong purpose", s.Encode(Token{Bounce, 42, 7, 0}), ErrPurpose},
	}
	for _, tc := range tests {
		_, err := s.Verify(tc.tok, Reply)
		if !errors.Is(err, tc.want) {
			// A truncated token may also fail base32 decoding or length checks.
			if tc.name == "truncated" && errors.Is(err, ErrMalformed) {
				continue
			}
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("NewSigner accepted a 5-byte key")
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(s.Encode(Token{Reply, 1, 2, 3}))
	f.Add("aaaa")
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := s.Verify(in, Reply)
		if err != nil {
			return
		}
		again, err := s.Verify(s.Encode(tok), Reply)
		if err != nil || again != tok {
			t.Fatalf("accepted %q but its re-encoding does not verify the same: %v", in, err)
		}
	})
}
