package mbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"time"
)

// Writer writes messages as an mboxrd mailbox, the format Reader reads: a
// From_ line, the message with every line of '>'s then "From " escaped by
// one more '>', then a blank line. The caller owns the underlying writer
// and must call Flush at the end.
type Writer struct {
	w *bufio.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

// WriteMessage writes raw (LF or CRLF line ends) with the From_ line
// "From SENDER DATE" (date in asctime form, UTC). sender must be one
// word without spaces; "-" when there is none to name.
func (w *Writer) WriteMessage(sender string, date time.Time, raw []byte) error {
	if _, err := fmt.Fprintf(w.w, "From %s %s\n", sender, date.UTC().Format(time.ANSIC)); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line = raw[:i+1]
		}
		raw = raw[len(line):]
		if isEscapedFrom(line) || bytes.HasPrefix(line, []byte("From ")) {
			w.w.WriteByte('>')
		}
		w.w.Write(line)
		if len(raw) == 0 && line[len(line)-1] != '\n' {
			w.w.WriteByte('\n')
		}
	}
	if _, err := w.w.WriteString("\n"); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	return nil
}

// Flush writes what is buffered.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	return nil
}
