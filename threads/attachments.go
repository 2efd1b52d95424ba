package threads

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/mailin/attach"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/templates"
)

// AttachmentInfo describes a stored attachment, without its data.
type AttachmentInfo struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
}

// keptAttachment is an attachment about to be stored with a post.
type keptAttachment struct {
	filename, contentType, contentID string
	inline                           bool
	data                             []byte
}

// selectAttachments decides which of m's attachments are kept with the
// post made from it (attach.Select: programs, archives holding one, files
// over maxFile bytes and past maxPost bytes in total are dropped); each
// dropped file yields a note line for the post body.
func selectAttachments(m *parse.Message, maxFile, maxPost int) (kept []keptAttachment, notes []string) {
	files, dropped := attach.Select(m, maxFile, maxPost)
	for _, d := range dropped {
		notes = append(notes, droppedNote(d, maxFile, maxPost))
	}
	for _, f := range files {
		kept = append(kept, keptAttachment{filename: f.Filename, contentType: f.ContentType, contentID: f.ContentID, inline: f.Inline, data: f.Data})
	}
	return kept, notes
}

// droppedNote renders the note line on dropped attachment d.
func droppedNote(d attach.Dropped, maxFile, maxPost int) string {
	switch d.Reason {
	case attach.ArchivedProgram:
		return templates.NoteDroppedArchivedProgram(d.Name, d.Member)
	case attach.Unchecked:
		return templates.NoteDroppedUnchecked(d.Name)
	case attach.TooLarge:
		return templates.NoteDroppedTooLarge(d.Name, maxFile)
	case attach.OverTotal:
		return templates.NoteDroppedOverTotal(d.Name, maxPost)
	}
	return templates.NoteDroppedProgram(d.Name)
}

// MaxPostTextBytes is the most text a post keeps in its body (and in its
// trimmed quote). A longer text is cut at a line break and kept whole in
// an attachment, message.txt, within the attachment limits: notifications
// carry the body, twice (text and HTML), to every recipient, and only link
// the files.
const MaxPostTextBytes = 64 << 10

// fullTextName is the attachment holding the whole of a too long text.
const fullTextName = "message.txt"

// postContent returns what a post made of m keeps: its body (cut to
// MaxPostTextBytes, with the notes on what was cut or dropped), its
// elided quote (cut too) and the attachments to store, first message.txt
// with the whole text when it was cut.
func postContent(m *parse.Message, body, elided string, maxFile, maxPost int) (string, string, []keptAttachment) {
	elided, _ = capText(elided, MaxPostTextBytes)
	short, cut := capText(body, MaxPostTextBytes)
	var kept []keptAttachment
	var notes []string
	if cut {
		switch {
		case len(body) > maxFile:
			notes = append(notes, templates.NoteTextTooLarge(MaxPostTextBytes, maxFile))
		case len(body) > maxPost:
			notes = append(notes, templates.NoteTextOverTotal(MaxPostTextBytes, maxPost))
		default:
			kept = append(kept, keptAttachment{filename: fullTextName, contentType: "text/plain", data: []byte(body)})
			maxPost -= len(body)
			notes = append(notes, templates.NoteTextAttached(MaxPostTextBytes, fullTextName))
		}
	}
	files, dropped := selectAttachments(m, maxFile, maxPost)
	kept = append(kept, files...)
	notes = append(notes, dropped...)
	if m.PartsDropped {
		notes = append(notes, templates.NotePartsDropped)
	}
	return appendNotes(short, notes), elided, kept
}

// capText returns s cut to at most max bytes, at the last line break of
// its second half if it has one, else at a character boundary, and
// whether it was cut.
func capText(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	cut := s[:max]
	if i := strings.LastIndexByte(cut, '\n'); i >= max/2 {
		cut = cut[:i]
	}
	for len(cut) > 0 && !utf8.RuneStart(s[len(cut)]) {
		cut = cut[:len(cut)-1]
	}
	return strings.TrimRight(cut, " \t\r\n"), true
}

// appendNotes adds the dropped-attachment notes to body, one per line
// after a blank line.
func appendNotes(body string, notes []string) string {
	if len(notes) == 0 {
		return body
	}
	n := strings.Join(notes, "\n")
	if body == "" {
		return n
	}
	return body + "\n\n" + n
}

// storeAttachments inserts the attachments of post postID, in tx.
func storeAttachments(ctx context.Context, tx pgx.Tx, postID int64, atts []keptAttachment) error {
	for _, a := range atts {
		_, err := tx.Exec(ctx, sqlInsertAttachment, postID, a.filename, a.contentType, len(a.data), a.data, a.contentID, a.inline)
		if err != nil {
			return fmt.Errorf("store attachment of post %d: %w", postID, err)
		}
	}
	return nil
}

// postAttachments returns the attachments of the posts of question id
// (the question included), by post id, in message order.
func (s *Store) postAttachments(ctx context.Context, questionID int64) (map[int64][]AttachmentInfo, error) {
	rows, err := s.pool.Query(ctx, sqlQuestionAttachments, questionID)
	if err != nil {
		return nil, fmt.Errorf("load attachments of %d: %w", questionID, err)
	}
	defer rows.Close()
	out := map[int64][]AttachmentInfo{}
	for rows.Next() {
		var post int64
		var a AttachmentInfo
		if err := rows.Scan(&post, &a.ID, &a.Filename, &a.ContentType, &a.Size, &a.Inline); err != nil {
			return nil, fmt.Errorf("scan attachment: %w", err)
		}
		out[post] = append(out[post], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load attachments of %d: %w", questionID, err)
	}
	return out, nil
}

// GetAttachment returns attachment id with its data, for download. Only
// attachments of visible or closed posts are returned; others are
// ErrNotFound.
func (s *Store) GetAttachment(ctx context.Context, id int64) (AttachmentInfo, []byte, error) {
	var a AttachmentInfo
	var data []byte
	err := s.pool.QueryRow(ctx, sqlDownloadAttachment, id).Scan(&a.ID, &a.Filename, &a.ContentType, &a.Size, &a.Inline, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return AttachmentInfo{}, nil, fmt.Errorf("attachment %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return AttachmentInfo{}, nil, fmt.Errorf("load attachment %d: %w", id, err)
	}
	return a, data, nil
}
