package smtp

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// TestDataReaderLineEnds covers the Postern patch: every CR/LF shape
// before and inside the end marker.
func TestDataReaderLineEnds(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ends     bool
	}{
		{"a\r\n.\r\n", "a\r\n", true},
		{"a\r\r\n.\r\n", "a\r\r\n", true},
		{"a\r\r\r\n.\r\n", "a\r\r\r\n", true},
		{"a\r\n\r\n.\r\n", "a\r\n\r\n", true},
		{".\r\r\n.\r\n", "\r\r\n", true},
		{"..\r\n.\r\n", ".\r\n", true},
		{".\rb\r\n.\r\n", "\rb\r\n", true},
		{"a\n.\r\n", "", false},
		{"a\r\n.\n", "", false},
		{"a\r\n.\r", "", false},
		{"a\n.\n", "", false},
	} {
		r := &dataReader{r: bufio.NewReader(strings.NewReader(tc.in))}
		got, err := io.ReadAll(r)
		if tc.ends {
			if err != nil || string(got) != tc.want {
				t.Errorf("%q: got %q, %v; want %q, end of data", tc.in, got, err, tc.want)
			}
		} else if err != io.ErrUnexpectedEOF {
			t.Errorf("%q: got %q, %v; want no end of data", tc.in, got, err)
		}
	}
}
