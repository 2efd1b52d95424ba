// Package mbox reads mailbox files of the mbox family (mboxo and mboxrd, as
// written by mail clients, list archivers such as Mailman's pipermail, Google
// Takeout and `git format-patch`) as a stream: one message at a time, never
// more than one message (bounded by Options.MaxMessageBytes) in memory.
//
// A message starts at a "From " separator line (the From_ line) and runs to
// the next one or to the end of the input. Lines inside a message that
// begin with one or more '>' followed by "From " had one '>' added when the
// mailbox was written (mboxrd; mboxo escapes only "From " itself); Reader
// removes it. Content-Length headers (mboxcl) are not used: a message body
// with an unescaped From_ line is split there, as every mbox reader without
// Content-Length does.
package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultMaxMessageBytes is the default of Options.MaxMessageBytes: the
// same 25 MiB Postern accepts over SMTP.
const DefaultMaxMessageBytes = 25 << 20

// Options configures a Reader. The zero value takes the defaults.
type Options struct {
	// MaxMessageBytes bounds one message (without its From_ line). A
	// larger message is skipped: Next returns an *OversizeError and may be
	// called again. Default DefaultMaxMessageBytes.
	MaxMessageBytes int
}

// Message is one message of a mailbox.
type Message struct {
	// Raw is the message as stored, without its From_ line and without
	// the blank line that separates it from the next one, with mboxrd
	// escapes removed and line ends as they were (LF or CRLF). Raw belongs
	// to the caller: the Reader never touches it again.
	Raw []byte
	// Separator is the From_ line, without its line end.
	Separator string
	// Offset is the byte offset of the From_ line in the input.
	Offset int64
}

// SeparatorDate returns the date of the From_ line ("From sender Mon Jan  2
// 15:04:05 2006", sometimes with a zone), the delivery date: a fallback for
// a message whose Date header is missing or unreadable.
func (m *Message) SeparatorDate() (time.Time, bool) {
	return separatorDate(m.Separator)
}

// OversizeError reports a message larger than Options.MaxMessageBytes. It
// was skipped whole; the Reader can go on with the next one.
type OversizeError struct {
	Offset int64 // byte offset of the skipped message's From_ line
	Size   int64 // its size, without the From_ line
	Limit  int   // Options.MaxMessageBytes
}

func (e *OversizeError) Error() string {
	return fmt.Sprintf("mbox: message at byte %d is %d bytes, over the %d-byte limit: skipped", e.Offset, e.Size, e.Limit)
}

// readBufferSize is the size of the Reader's line buffer; longer lines are
// read in pieces.
const readBufferSize = 64 << 10

// Reader reads the messages of a mailbox in order. It is not safe for
// concurrent use. Its memory is one read buffer plus one message.
type Reader struct {
	br  *bufio.Reader
	max int

	pos     int64  // bytes consumed
	started bool   // the first From_ line was found
	sep     []byte // the From_ line that starts the next message (nil: none)
	sepOff  int64
	garbage int64  // bytes before the first From_ line
	scratch []byte // reused message buffer
	err     error  // sticky: io.EOF or a read error
}

// NewReader returns a Reader of the mailbox in r. The caller keeps
// ownership of r (and closes it, if it must be closed).
func NewReader(r io.Reader, opts Options) *Reader {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), max: opts.MaxMessageBytes}
}

// Offset returns how many bytes of the input have been consumed: for
// progress. Since a message ends where the next From_ line starts, it is
// ahead of the end of the message last returned by up to one line.
func (r *Reader) Offset() int64 { return r.pos }

// Garbage returns the number of bytes skipped before the first From_ line
// (all of the input when it has none): not a mailbox, or a damaged one.
func (r *Reader) Garbage() int64 { return r.garbage }

// Next returns the next message. At the end of the input it returns
// io.EOF (an empty input, or one without any From_ line, has no messages).
// A message over the size limit yields an *OversizeError, after which Next
// may be called again; any other error is from the underlying reader and
// is returned again by every later call.
func (r *Reader) Next() (*Message, error) {
	if r.err != nil && r.sep == nil {
		return nil, r.err
	}
	if !r.started {
		if err := r.findFirst(); err != nil {
			r.err = err
			return nil, err
		}
	}
	if r.sep == nil {
		return nil, r.err
	}
	sep, off := strings.TrimRight(string(r.sep), "\r\n"), r.sepOff
	r.sep = nil
	buf := r.scratch[:0]
	var size int64
	oversize := false
	lineStart := true
	for r.err == nil {
		start := r.pos
		frag, err := r.br.ReadSlice('\n')
		r.pos += int64(len(frag))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			r.err = err
		}
		complete := err == nil || (r.err != nil && len(frag) > 0)
		if lineStart && complete && isSeparator(frag) {
			r.sep, r.sepOff = append(r.sep[:0], frag...), start
			break
		}
		if lineStart && isEscapedFrom(frag) {
			frag = frag[1:]
		}
		lineStart = err == nil
		size += int64(len(frag))
		if oversize {
			continue
		}
		if len(buf)+len(frag) > r.max {
			oversize = true
			buf = buf[:0]
			continue
		}
		buf = append(buf, frag...)
	}
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return nil, r.err
	}
	r.scratch = buf[:0]
	if oversize {
		return nil, &OversizeError{Offset: off, Size: size, Limit: r.max}
	}
	return &Message{Raw: bytes.Clone(trimSeparatorBlank(buf)), Separator: sep, Offset: off}, nil
}

// findFirst skips to the first From_ line, counting what it skips.
func (r *Reader) findFirst() error {
	r.started = true
	lineStart := true
	for {
		start := r.pos
		frag, err := r.br.ReadSlice('\n')
		r.pos += int64(len(frag))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			r.garbage += int64(len(frag))
			return err
		}
		if lineStart && err == nil && isSeparator(frag) {
			r.sep, r.sepOff = append([]byte(nil), frag...), start
			return nil
		}
		lineStart = err == nil
		r.garbage += int64(len(frag))
	}
}

// trimSeparatorBlank removes the blank line that precedes the next From_
// line (the last line end of a message that ends in an empty line).
func trimSeparatorBlank(b []byte) []byte {
	switch {
	case len(b) == 1 && b[0] == '\n', len(b) == 2 && b[0] == '\r' && b[1] == '\n':
		return b[:0]
	case bytes.HasSuffix(b, []byte("\r\n\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n\n")):
		return b[:len(b)-1]
	}
	return b
}

// isSeparator reports whether line is a From_ line: "From " at the start
// of a line, followed by a time of day (h:mm), as every writer puts the
// delivery date there ("From sender Mon Jan  2 15:04:05 2006"). Requiring
// the time keeps an unescaped "From here on..." in a damaged mboxo body
// from splitting the message.
func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	rest := line[5:]
	for i := 1; i+2 < len(rest); i++ {
		if rest[i] == ':' && isDigit(rest[i-1]) && isDigit(rest[i+1]) && isDigit(rest[i+2]) {
			return true
		}
	}
	return false
}

// isEscapedFrom reports a line of one or more '>' followed by "From ": an
// mboxrd (or mboxo) escape, one '>' of which the writer added.
func isEscapedFrom(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(line[i:], []byte("From "))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// separatorLayouts are the date formats seen after the sender in From_
// lines, with runs of spaces folded to one.
var separatorLayouts = []string{
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04 2006",
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006 -0700",
}

// separatorDate parses the date of a From_ line (see Message.SeparatorDate).
func separatorDate(line string) (time.Time, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "From" {
		return time.Time{}, false
	}
	// The sender is one field, or pipermail's "user at host" three.
	for skip := 2; skip <= 4 && skip < len(f); skip++ {
		s := strings.Join(f[skip:], " ")
		for _, l := range separatorLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
