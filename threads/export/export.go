// Package export writes the forum's threads as an archive (`postern
// export`): an mboxrd mailbox, one message per post, or JSON, one object
// per thread. Neither carries an address: authors appear by display name
// only (as an empty group, `"Alice Adams": ;`, in mbox From headers), and
// the Message-IDs are the forum's own (they hold no address), so replies
// keep their In-Reply-To and References and a mail client threads the
// archive as the forum does. Only visible and closed posts are written,
// as the web pages show them.
package export

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/postern/postern/mailin/mbox"
	"github.com/postern/postern/threads"
)

// Format is an archive format.
type Format string

const (
	Mbox Format = "mbox" // an mboxrd mailbox
	JSON Format = "json" // a JSON array of Thread
)

// Thread is one question with its answers and comments, as the JSON
// format writes it.
type Thread struct {
	Question threads.ExportedPost   `json:"question"`
	Replies  []threads.ExportedPost `json:"replies"`
}

// Write writes every exported post of st to w in format f, calling
// progress (if not nil) after each post with the count written so far.
// It returns the number of posts written.
func Write(ctx context.Context, st *threads.Store, w io.Writer, f Format, progress func(int64)) (int64, error) {
	switch f {
	case Mbox:
		return writeMbox(ctx, st, w, progress)
	case JSON:
		return writeJSON(ctx, st, w, progress)
	}
	return 0, fmt.Errorf("export: unknown format %q (mbox or json)", f)
}

func writeMbox(ctx context.Context, st *threads.Store, w io.Writer, progress func(int64)) (int64, error) {
	mw := mbox.NewWriter(w)
	var n int64
	err := st.ExportPosts(ctx, func(p threads.ExportedPost) error {
		if err := mw.WriteMessage("-", p.CreatedAt, Message(p)); err != nil {
			return err
		}
		n++
		if progress != nil {
			progress(n)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, mw.Flush()
}

// Message is post p as a message: From its author's display name (an
// empty group: no address), Subject the question's title ("Re: " for a
// reply), Date, the forum Message-ID, In-Reply-To and References its
// parent's and the question's, an X-Postern-Kind header, and the body as
// UTF-8 text.
func Message(p threads.ExportedPost) []byte {
	var b strings.Builder
	subject := p.Title
	if p.Kind != string(threads.KindQuestion) {
		subject = "Re: " + subject
	}
	fmt.Fprintf(&b, "From: %s: ;\n", phrase(p.Author))
	fmt.Fprintf(&b, "Subject: %s\n", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	fmt.Fprintf(&b, "Date: %s\n", p.CreatedAt.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s>\n", p.MessageID)
	if p.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\nReferences: <%s>\n", p.InReplyTo, p.InReplyTo)
	}
	fmt.Fprintf(&b, "X-Postern-Kind: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n", p.Kind)
	body := strings.ReplaceAll(p.Body, "\r\n", "\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\n") {
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// phrase is name as an RFC 5322 display name: a quoted string, or
// encoded words when it is not ASCII.
func phrase(name string) string {
	name = oneLine(name)
	if name == "" {
		name = "anonymous"
	}
	for _, r := range name {
		if r >= 0x80 {
			return mime.QEncoding.Encode("utf-8", name)
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// oneLine is s with line breaks replaced by spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func writeJSON(ctx context.Context, st *threads.Store, w io.Writer, progress func(int64)) (int64, error) {
	var n int64
	var cur *Thread
	first := true
	flush := func() error {
		if cur == nil {
			return nil
		}
		b, err := json.MarshalIndent(cur, "  ", "  ")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		sep := ",\n  "
		if first {
			sep, first = "[\n  ", false
		}
		if _, err := fmt.Fprintf(w, "%s%s", sep, b); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}
	err := st.ExportPosts(ctx, func(p threads.ExportedPost) error {
		if p.Kind == string(threads.KindQuestion) {
			if err := flush(); err != nil {
				return err
			}
			cur = &Thread{Question: p, Replies: []threads.ExportedPost{}}
		} else if cur != nil && p.QuestionID == cur.Question.ID {
			cur.Replies = append(cur.Replies, p)
		}
		n++
		if progress != nil {
			progress(n)
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, err
	}
	end := "\n]\n"
	if first {
		end = "[]\n"
	}
	if _, err := io.WriteString(w, end); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	return n, nil
}
