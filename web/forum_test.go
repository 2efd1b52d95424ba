package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/postern/postern/internal/guesslimit"
	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// testGuesses is the test forums' limit of links with a bad token per
// client network.
const testGuesses = 5

// testForum is a Handler over a store of its own (a fresh, migrated
// database) and the posts a test writes into it directly.
type testForum struct {
	st *threads.Store
	h  *Handler
	n  int // posts written, for unique Message-IDs
}

func newTestForum(t *testing.T) *testForum {
	t.Helper()
	st := storetest.New(t, nil)
	tmpl, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	return &testForum{st: st, h: New(st, tmpl, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Guesses: guesslimit.New(testGuesses, time.Hour)})}
}

// exec runs sql with args, failing t on an error, and returns the id
// the statement's RETURNING gives (0 without).
func (f *testForum) exec(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var id int64
	if err := f.st.Pool().QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return id
}

// person adds a person named name with address addr (kept as its hash,
// as the forum keeps them) and returns the id.
func (f *testForum) person(t *testing.T, name, addr string) int64 {
	t.Helper()
	return f.exec(t, `INSERT INTO people (display_name, address_hash, confirmed_at) VALUES ($1, sha256($2::bytea), now()) RETURNING id`, name, addr)
}

// category adds category slug and returns its id.
func (f *testForum) category(t *testing.T, slug, name string) int64 {
	t.Helper()
	c, err := f.st.AddCategory(context.Background(), slug, name)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// post adds a post of kind in state by author (question 0 and parent 0
// for a question; cat 0 for none) and returns its id.
func (f *testForum) post(t *testing.T, kind, state string, author, question, parent, cat int64, title, body string) int64 {
	t.Helper()
	f.n++
	null := func(id int64) any {
		if id == 0 {
			return nil
		}
		return id
	}
	return f.exec(t, `INSERT INTO posts (kind, state, author_id, question_id, parent_id, category_id, title, body, message_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		kind, state, author, null(question), null(parent), null(cat), title, body, fmt.Sprintf("test-%d.%s", f.n, storetest.Domain))
}

// question adds a visible question and returns its id.
func (f *testForum) question(t *testing.T, author, cat int64, title, body string) int64 {
	t.Helper()
	return f.post(t, "question", "visible", author, 0, 0, cat, title, body)
}

// get serves GET path with header fields hdr (name, value, ...).
func (f *testForum) get(t *testing.T, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

// listed is the question ids a list page links, in order.
func listed(t *testing.T, page string) []int64 {
	t.Helper()
	var ids []int64
	for _, m := range regexp.MustCompile(`<p class="qtitle"><a href="/q/(\d+)">`).FindAllStringSubmatch(page, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

// wantStatus fails t unless rec has status.
func wantStatus(t *testing.T, name string, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("%s: status %d, want %d:\n%s", name, rec.Code, status, rec.Body)
	}
	if rec.Header().Get("Content-Security-Policy") != PageCSP {
		t.Errorf("%s: CSP %q", name, rec.Header().Get("Content-Security-Policy"))
	}
}
