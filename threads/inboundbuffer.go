package threads

import (
	"errors"
	"io"
	"sync"
)

// InboundBuffer holds a message being received, with room in front of it
// and behind it for the sealing that AcceptBuffer does in place, so that a
// message of many megabytes is read once and never copied to be stored.
// How much room the seal needs is the buffer's business: its user only
// reads the message into it.
//
// Get one from Store.NewBuffer, read the message into it with Fill and
// hand it to AcceptBuffer, or Discard it. An InboundBuffer is not safe
// for concurrent use.
type InboundBuffer struct {
	// buf[:head] is free for the nonce and the envelope sender, buf[head:]
	// is the message, and at least tag bytes of capacity stay free behind
	// it for the seal's tag.
	buf  []byte
	head int
	tag  int
	// hint is the message size the sender declared (SMTP SIZE), 0 if none.
	hint int
}

// SizeHint tells the buffer the size the sender declared for the message
// (the SMTP SIZE parameter), so that Fill allocates it at once instead of
// growing by halves: the copies made while growing, and the capacity
// beyond the message, are what a 25 MB message cost most at intake. A
// message longer than declared still fits (the buffer grows from there);
// n ≤ 0 means none was declared.
func (b *InboundBuffer) SizeHint(n int) { b.hint = max(n, 0) }

// firstBuffer is the capacity of a buffer before it grows: most mail
// fits. Buffers of exactly this size are reused (bufPool), sparing the
// allocation, its zeroing and the garbage collector's work for every
// message.
const firstBuffer = 64 << 10

// minRead is the least free space a Read is given before the buffer grows.
const minRead = 512

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, firstBuffer); return &b }}

// NewBuffer returns an empty buffer for a message whose envelope sender
// is mailFrom (which AcceptBuffer's envelope must name). It allocates
// nothing until Fill.
func (s *Store) NewBuffer(mailFrom string) *InboundBuffer {
	// The sealed value is nonce || ciphertext of "sender NUL message" ||
	// tag, built in place: the nonce and the sender go in front of the
	// message, the tag behind it. The headroom is SealOverhead (nonce and
	// tag) plus the sender and its NUL, a tag's size more than needed.
	aead := s.keys.aeads[s.keys.current]
	return &InboundBuffer{head: s.keys.SealOverhead() + len(mailFrom) + 1, tag: aead.Overhead()}
}

// bufferWith returns a buffer holding a copy of raw, for a message from
// mailFrom.
func (s *Store) bufferWith(mailFrom string, raw []byte) *InboundBuffer {
	b := s.NewBuffer(mailFrom)
	b.buf = make([]byte, b.head+len(raw), b.head+len(raw)+b.tag)
	copy(b.buf[b.head:], raw)
	return b
}

// Message returns the message read so far. It aliases the buffer: it is
// valid until the buffer grows, is accepted or is discarded.
func (b *InboundBuffer) Message() []byte {
	if b.buf == nil {
		return nil
	}
	return b.buf[b.head:]
}

// Len is the size of the message read so far.
func (b *InboundBuffer) Len() int { return len(b.Message()) }

// Fill appends what r yields to the message until r returns io.EOF;
// any other error of r is returned as is, with the bytes read before it
// kept. The buffer grows by half (from 64 KiB), and not past what a
// message of maxSize bytes (and one more, to see the end) needs; a longer
// one still fits, the buffer then growing in small steps: r is expected
// to enforce the limit. Before each allocation Fill calls reserve with the
// capacity, in bytes, that the buffer is about to have; an error from
// reserve ends the read and is returned, nothing being allocated.
func (b *InboundBuffer) Fill(r io.Reader, maxSize int, reserve func(capacity int) error) error {
	limit := b.head + maxSize + 1 + b.tag
	// A buffer of the declared size is filled to its last byte before it
	// grows: only a message longer than declared makes it grow.
	hinted := b.head + b.hint + 1 + b.tag
	for {
		// Reads get minRead bytes at least, or the last few before the limit.
		room := cap(b.buf) - len(b.buf) - b.tag
		if b.buf == nil || room < minRead && (cap(b.buf) < limit && cap(b.buf) != hinted || room < 1) {
			n := max(cap(b.buf)+cap(b.buf)/2, firstBuffer)
			if b.buf == nil && b.hint > 0 {
				// The declared size, and one more byte to see the end.
				n = max(b.head+b.hint+1+b.tag, firstBuffer)
			}
			if used := max(len(b.buf), b.head) + b.tag; n > limit {
				// What the largest message needs; past it, small steps.
				n = limit
				if n-used < 1 {
					n = used + minRead
				}
			}
			if err := reserve(n); err != nil {
				return err
			}
			b.grow(n)
		}
		n, err := r.Read(b.buf[len(b.buf) : cap(b.buf)-b.tag])
		b.buf = b.buf[:len(b.buf)+n]
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// grow moves the buffer to one of capacity n, taken from bufPool when it
// is the first and of the pool's size.
func (b *InboundBuffer) grow(n int) {
	if b.buf == nil && n == firstBuffer {
		b.buf = (*bufPool.Get().(*[]byte))[:b.head]
		return
	}
	nb := make([]byte, max(len(b.buf), b.head), n)
	copy(nb, b.buf)
	b.Discard()
	b.buf = nb
}

// Discard gives the buffer's memory back; the buffer is empty afterwards
// and may be filled again. Discarding an empty or accepted buffer does
// nothing.
func (b *InboundBuffer) Discard() {
	if cap(b.buf) == firstBuffer {
		buf := b.buf[:0]
		bufPool.Put(&buf)
	}
	b.buf = nil
}
