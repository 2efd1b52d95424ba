package threads

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AttachmentInfo describes a stored attachment, without its data.
type AttachmentInfo struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
}

// MaxPostTextBytes is the most text a post keeps in its body (and in its
// trimmed quote). A longer text is cut at a line break and kept whole in
// an attachment, message.txt, within the attachment limits: notifications
// carry the body, twice (text and HTML), to every recipient, and only link
// the files.
const MaxPostTextBytes = 64 << 10

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
func storeAttachments(ctx context.Context, tx pgx.Tx, postID int64, atts []KeptAttachment) error {
	for _, a := range atts {
		_, err := tx.Exec(ctx, sqlInsertAttachment, postID, a.Filename, a.ContentType, len(a.Data), a.Data, a.ContentID, a.Inline)
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
