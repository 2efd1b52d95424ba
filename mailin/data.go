package mailin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/threads"
)

// Reading DATA: the message into the intake's buffer (its memory from the
// budget), or its first threads.StreamFrom bytes and the rest as a
// stream; the checks of its line ends and header; the replies to a read
// that failed.

// chunk is the unit in which a message's memory is taken from the budget.
const chunk = 1 << 20

// roundChunk rounds n up to whole chunks.
func roundChunk(n int64) int64 { return (n + chunk - 1) / chunk * chunk }

// readMessage reads the message into a buffer of the intake, taking its
// memory from the server's budget chunk by chunk; release returns it.
// A message of threads.StreamFrom bytes or more is read only that far
// (or to MaxHeaderBytes and its blank line, if more):
// rest is then the remainder, to be stored as it is read (AcceptStream),
// checked for bare line ends as it goes; otherwise rest is nil. The
// header limits are checked too. On error, the buffer is discarded and
// the memory released.
func (s *session) readMessage(r io.Reader) (buf *threads.InboundBuffer, rest *checkedReader, release func(), err error) {
	var held int64
	release = func() {
		if held > 0 {
			s.srv.mem.Release(held)
			held = 0
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.CommitTimeout)
	defer cancel()
	// Charged twice: the driver encodes the message (or, streamed, each
	// chunk) once more when it sends it to the database.
	reserve := func(capacity int) error {
		need := roundChunk(2 * int64(capacity))
		if need <= held {
			return nil
		}
		// Never wait while holding: sessions that each held part of the
		// budget and waited for more would block each other forever.
		// Take the increment if it is free, otherwise give back what is
		// held and wait for the whole.
		if !s.srv.mem.TryAcquire(need - held) {
			release()
			if err := s.srv.mem.Acquire(ctx, need); err != nil {
				return errBusy
			}
		}
		held = need
		return nil
	}
	buf = s.srv.intake.NewBuffer(s.from)
	// Not buf.SizeHint(s.declared): reserving a declared message's whole
	// size before its first byte starved intake under processing's share
	// of the budget (100 × 5 MB: 25-36 accepted in 30 s, the rest 451).
	// The first part holds the whole header of any message within
	// MaxHeaderBytes, and the blank line ending it, to be checked.
	firstSize := max(threads.StreamFrom, s.srv.cfg.MaxHeaderBytes+4)
	first := &io.LimitedReader{R: r, N: int64(firstSize)}
	if err := buf.Fill(first, min(int(s.srv.cfg.MaxMessageBytes), firstSize), reserve); err != nil {
		size := buf.Len()
		buf.Discard()
		release()
		return nil, nil, nil, s.fillFailed(err, size)
	}
	check := s.checkHeader
	if first.N == 0 {
		lc := &lineChecker{}
		check = func(raw []byte) error {
			if lc.bare(raw) {
				return errBareNewline
			}
			return s.checkHeaderLimits(raw)
		}
		rest = &checkedReader{r: r, c: lc}
	}
	if err := check(buf.Message()); err != nil {
		buf.Discard()
		release()
		return nil, nil, nil, err
	}
	return buf, rest, release, nil
}

// fillFailed is the reply to a message whose reading failed with err
// after size bytes.
func (s *session) fillFailed(err error, size int) error {
	var se *smtp.SMTPError
	switch {
	case errors.Is(err, errBusy):
		return errBusy
	case errors.Is(err, errBareNewline):
		return errBareNewline
	case errors.As(err, &se) && se.Code == 552:
		return errTooBig
	case errors.Is(err, smtp.ErrTooLongLine):
		s.log.Info("message read failed", "reason", "line too long", "bytes", size)
		return errLineTooLong
	}
	reason := "connection lost"
	switch {
	case isTimeout(err):
		reason = "timeout"
	case errors.Is(err, smtp.ErrDataReset):
		reason = "reset by the client"
	}
	s.log.Info("message read failed", "reason", reason, "bytes", size)
	return s.readFailed(err)
}

// checkHeader checks raw's line endings and the limits of its header.
func (s *session) checkHeader(raw []byte) error {
	if bareNewline(raw) {
		return errBareNewline
	}
	return s.checkHeaderLimits(raw)
}

// checkHeaderLimits checks the limits of the header of raw (the message,
// or its first part holding the header).
func (s *session) checkHeaderLimits(raw []byte) error {
	hdr := raw
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if e2 := bytes.Index(raw, []byte("\n\n")); end < 0 || (e2 >= 0 && e2 < end) {
		end = e2
	}
	if end >= 0 {
		hdr = raw[:end]
	}
	if len(hdr) > s.srv.cfg.MaxHeaderBytes {
		return errHeaderBig
	}
	if countReceived(hdr) > s.srv.cfg.MaxReceived {
		return errLoop
	}
	return nil
}

func countReceived(head []byte) int {
	n := 0
	for _, line := range bytes.Split(head, []byte("\n")) {
		if len(line) > 9 && strings.EqualFold(string(line[:9]), "received:") {
			n++
		}
	}
	return n
}

// readFailed is the reply to a message whose reading failed with err: a
// timeout or a lost connection, never with err's text (it names the
// socket addresses).
func (s *session) readFailed(err error) *smtp.SMTPError {
	lmtp := s.source == threads.SourceLMTP
	switch {
	case isTimeout(err) && lmtp:
		return errDataTimeoutLMTP
	case isTimeout(err):
		return errDataTimeoutSMTP
	case lmtp:
		return errDataLostLMTP
	}
	return errDataLostSMTP
}

// bareNewline reports whether raw holds a CR not followed by LF or an LF
// not preceded by CR.
func bareNewline(raw []byte) bool {
	for i := 0; ; {
		j := bytes.IndexAny(raw[i:], "\r\n")
		if j < 0 {
			return false
		}
		i += j
		if raw[i] == '\n' || i+1 == len(raw) || raw[i+1] != '\n' {
			return true
		}
		i += 2
	}
}

// lineChecker finds a bare CR or LF in a message read in pieces (a CR
// ending one piece may be followed by the LF starting the next).
type lineChecker struct{ cr bool } // the last byte seen was a CR

// bare reports whether p, following what the checker saw, holds a bare
// CR or LF (a CR at p's end is judged with the next piece, or by end).
func (c *lineChecker) bare(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	if c.cr {
		if p[0] != '\n' {
			return true
		}
		p = p[1:]
	}
	c.cr = len(p) > 0 && p[len(p)-1] == '\r'
	if c.cr {
		p = p[:len(p)-1]
	}
	return bareNewline(p)
}

// end reports whether the message ended on a bare CR.
func (c *lineChecker) end() bool { return c.cr }

// checkedReader is the rest of a streamed message: it fails with
// errBareNewline at the first bare CR or LF, and counts the bytes read.
type checkedReader struct {
	r io.Reader
	c *lineChecker
	n int64
}

func (r *checkedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.c.bare(p[:n]) || errors.Is(err, io.EOF) && r.c.end() {
		return n, errBareNewline
	}
	return n, err
}
