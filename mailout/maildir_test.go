package mailout

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-message/mail"
)

func TestMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	md, err := NewMaildir(dir)
	if err != nil {
		t.Fatalf("NewMaildir: %v", err)
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Fatalf("%s missing: %v", sub, err)
		}
	}
	first := testOutgoing(t)
	second := testOutgoing(t)
	second.MessageID = "comment.9.xyz@" + forumDomain
	second.Subject = "Re: [Gärdeners] Second"
	sent := map[string]*Outgoing{first.MessageID: first, second.MessageID: second}
	for _, o := range []*Outgoing{first, second} {
		msg, err := Compose(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := md.Send(context.Background(), testFrom, o.To.Address, msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("tmp not empty: %d files", len(left))
	}
	files, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("new has %d files, want 2", len(files))
	}
	for _, f := range files {
		if strings.ContainsAny(f.Name(), "/:") {
			t.Errorf("bad file name %q", f.Name())
		}
		raw, err := os.ReadFile(filepath.Join(dir, "new", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r, err := mail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("parse %s: %v", f.Name(), err)
		}
		if got := r.Header.Get("Return-Path"); got != "<"+testFrom+">" {
			t.Errorf("Return-Path = %q", got)
		}
		id, _ := r.Header.MessageID()
		o := sent[id]
		if o == nil {
			t.Fatalf("unexpected Message-ID")
		}
		delete(sent, id)
		if subj, _ := r.Header.Subject(); subj != o.Subject {
			t.Errorf("Subject = %q, want %q", subj, o.Subject)
		}
		p, err := r.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p.Body)
		if strings.ReplaceAll(string(body), "\r\n", "\n") != o.Text {
			t.Errorf("text part differs")
		}
		// The file is the composed message with only Return-Path before it.
		if !bytes.HasPrefix(raw, []byte("Return-Path: <"+testFrom+">\r\nDate: ")) {
			t.Errorf("file does not start with Return-Path then the message")
		}
		checkOnlyRecipient(t, raw[bytes.IndexByte(raw, '\n')+1:], o.To.Address)
	}
}

func TestMaildirConcurrent(t *testing.T) {
	md, err := NewMaildir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := md.Send(context.Background(), testFrom, testRcpt, []byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	files, _ := os.ReadDir(filepath.Join(md.dir, "new"))
	if len(files) != 20 {
		t.Errorf("new has %d files, want 20", len(files))
	}
}

func TestMaildirRejects(t *testing.T) {
	if _, err := NewMaildir(""); err == nil {
		t.Error("NewMaildir(\"\") accepted")
	}
	md, err := NewMaildir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = md.Send(context.Background(), "a@b.example>\r\nX-Evil: 1", testRcpt, []byte("x\r\n"))
	if err == nil {
		t.Error("injected envelope sender accepted")
	} else if strings.Contains(err.Error(), "@") {
		t.Errorf("error reveals an address: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := md.Send(ctx, testFrom, testRcpt, []byte("x\r\n")); err == nil {
		t.Error("Send with a cancelled context succeeded")
	}
}
