package mailout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Maildir is the Sender that stores each message as a file in a Maildir
// (dir/new), for development and tests instead of a relay. It is safe for
// concurrent use, also by several processes sharing the directory.
type Maildir struct {
	dir  string
	host string
	seq  atomic.Uint64
}

// NewMaildir returns a Maildir writing under dir, creating dir and its
// tmp, new and cur subdirectories (mode 0700) when missing.
func NewMaildir(dir string) (*Maildir, error) {
	if dir == "" {
		return nil, errors.New("maildir: empty directory name")
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("maildir: create %s: %w", sub, err)
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// '/' and ':' may not appear in a Maildir name.
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &Maildir{dir: dir, host: host}, nil
}

// Send stores msg as one new message, unchanged except for a prepended
// "Return-Path: <envelopeFrom>" line. The file is written to tmp/ under a
// unique name, synced, renamed into new/, and new/ is synced, so a message
// is either fully delivered or absent. rcpt is not recorded (the To header
// already names the recipient). Errors are temporary and contain no
// address.
func (m *Maildir) Send(ctx context.Context, envelopeFrom, rcpt string, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if strings.ContainsAny(envelopeFrom, "\r\n<>") {
		return errors.New("maildir: envelope sender contains a line break or angle bracket")
	}
	name, err := m.uniqueName()
	if err != nil {
		return err
	}
	tmp := filepath.Join(m.dir, "tmp", name)
	dst := filepath.Join(m.dir, "new", name)

	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("maildir: create in tmp: %w", err)
	}
	if err := writeSync(f, "Return-Path: <"+envelopeFrom+">\r\n", msg); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("maildir: write message: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("maildir: move to new: %w", err)
	}
	if err := syncDir(filepath.Join(m.dir, "new")); err != nil {
		return fmt.Errorf("maildir: sync new: %w", err)
	}
	return nil
}

// uniqueName makes a Maildir file name: time, pid, a sequence number and
// random bytes, then the host name.
func (m *Maildir) uniqueName() (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("maildir: random name: %w", err)
	}
	now := time.Now()
	return strconv.FormatInt(now.Unix(), 10) + ".M" + strconv.Itoa(now.Nanosecond()/1000) +
		"P" + strconv.Itoa(os.Getpid()) + "Q" + strconv.FormatUint(m.seq.Add(1), 10) +
		"R" + hex.EncodeToString(rnd[:]) + "." + m.host, nil
}

// writeSync writes head and body to f, syncs and closes it.
func writeSync(f *os.File, head string, body []byte) error {
	_, err := f.WriteString(head)
	if err == nil {
		_, err = f.Write(body)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
