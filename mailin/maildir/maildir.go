// Package maildir reads the messages of a Maildir (cur/ and new/, as
// Dovecot, Postfix's local delivery or an offlineimap copy leave them),
// one file each, in delivery order, for the importer.
//
// A Maildir file name starts with the delivery time in seconds
// ("1700000000.M1P2.host:2,S"); messages are read oldest first by that
// number, then by file modification time and name, so that questions
// usually come before their replies (the importer copes with the
// opposite too). tmp/ holds deliveries in progress and is skipped, as are
// dot files and folders.
package maildir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/mailin/mbox"
)

// entry is one message file.
type entry struct {
	path  string
	name  string
	stamp int64 // the leading delivery time of its name, or its mtime
	mtime time.Time
	size  int64
}

// Reader returns the messages of a Maildir as mbox.Message values: Raw
// is the file's bytes, Separator a From_ line carrying the file's
// modification time (the delivery date: the fallback for a message
// without a readable Date header), Offset the bytes of the files before
// it. It implements importer.Source. A Reader is not safe for concurrent
// use.
type Reader struct {
	files []entry
	next  int
	pos   int64
	max   int
	total int64
}

// Open lists the messages of the Maildir at dir (it must have a cur/ or
// new/ folder). maxMessageBytes bounds one message (0:
// mbox.DefaultMaxMessageBytes); a larger file is skipped with an
// *mbox.OversizeError from Next.
func Open(dir string, maxMessageBytes int) (*Reader, error) {
	if maxMessageBytes <= 0 {
		maxMessageBytes = mbox.DefaultMaxMessageBytes
	}
	r := &Reader{max: maxMessageBytes}
	found := false
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		found = true
		for _, de := range ents {
			if strings.HasPrefix(de.Name(), ".") || !de.Type().IsRegular() {
				continue
			}
			fi, err := de.Info()
			if err != nil {
				return nil, fmt.Errorf("maildir: %w", err)
			}
			e := entry{path: filepath.Join(dir, sub, de.Name()), name: de.Name(), mtime: fi.ModTime(), size: fi.Size()}
			e.stamp = fi.ModTime().Unix()
			if n, err := strconv.ParseInt(strings.SplitN(de.Name(), ".", 2)[0], 10, 64); err == nil {
				e.stamp = n
			}
			r.files = append(r.files, e)
			r.total += e.size
		}
	}
	if !found {
		return nil, fmt.Errorf("maildir: %s has neither cur/ nor new/: not a Maildir", dir)
	}
	sort.Slice(r.files, func(i, j int) bool {
		a, b := r.files[i], r.files[j]
		if a.stamp != b.stamp {
			return a.stamp < b.stamp
		}
		if !a.mtime.Equal(b.mtime) {
			return a.mtime.Before(b.mtime)
		}
		return a.name < b.name
	})
	return r, nil
}

// Len is the number of messages.
func (r *Reader) Len() int { return len(r.files) }

// Size is the bytes of all the messages, for a progress bar.
func (r *Reader) Size() int64 { return r.total }

// Offset is the bytes of the messages returned (or skipped) so far.
func (r *Reader) Offset() int64 { return r.pos }

// Garbage is always 0: a Maildir has nothing between messages.
func (r *Reader) Garbage() int64 { return 0 }

// Next returns the next message, io.EOF after the last. A file larger
// than the limit yields an *mbox.OversizeError, after which Next may be
// called again; a file that cannot be read ends the reading with its
// error.
func (r *Reader) Next() (*mbox.Message, error) {
	if r.next >= len(r.files) {
		return nil, io.EOF
	}
	e := r.files[r.next]
	r.next++
	off := r.pos
	r.pos += e.size
	if e.size > int64(r.max) {
		return nil, &mbox.OversizeError{Offset: off, Size: e.size, Limit: r.max}
	}
	raw, err := readCapped(e.path, r.max)
	if err != nil {
		return nil, err
	}
	if len(raw) > r.max {
		return nil, &mbox.OversizeError{Offset: off, Size: int64(len(raw)), Limit: r.max}
	}
	sep := "From MAILER-DAEMON " + e.mtime.UTC().Format(time.ANSIC)
	return &mbox.Message{Raw: raw, Separator: sep, Offset: off}, nil
}

// readCapped reads the file at path, at most max+1 bytes (a file that
// grew since it was listed is then seen as oversize).
func readCapped(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("maildir: read %s: %w", filepath.Base(path), err)
	}
	return b, nil
}
