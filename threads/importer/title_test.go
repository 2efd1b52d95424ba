package importer

import (
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/mailin/mbox"
)

// TestImportedTitleHasNoAddress checks that an imported question's title
// keeps no address of its subject, plain or RFC 2047 encoded, as for live
// mail.
func TestImportedTitleHasNoAddress(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	file := mboxMessage("From: Yan <yan@example.org>\nSubject: Ask carol@example.com or dave@example.com about it\nMessage-ID: <t1@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000", "t1 Who knows?\n") +
		mboxMessage("From: Yan <yan@example.org>\nSubject: =?utf-8?q?Yan_asks_dave=40example=2Ecom?=\nMessage-ID: <t2@example.org>\nDate: Tue, 2 Jan 2024 10:00:00 +0000", "t2 Anyone?\n")
	if _, err := Mbox(ctx, st, mbox.NewReader(strings.NewReader(file), mbox.Options{}), Options{}); err != nil {
		t.Fatal(err)
	}
	want := "q t1 [Ask [address removed] or [address removed] about it]\nq t2 [Yan asks [address removed]]\n"
	if got := forumTree(t, st); got != want {
		t.Errorf("threads:\n%s\nwant:\n%s", got, want)
	}
	if n := countRows(t, st, `SELECT count(*) FROM posts WHERE title LIKE '%@%'`); n != 0 {
		t.Errorf("%d titles keep an address", n)
	}
}
