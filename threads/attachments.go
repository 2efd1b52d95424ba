package threads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/mailin/parse"
)

// Default attachment limits (Config.MaxAttachmentBytes and
// Config.MaxPostAttachmentBytes).
const (
	DefaultMaxAttachmentBytes     = 10 << 20
	DefaultMaxPostAttachmentBytes = 25 << 20
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

// executableExts are file name extensions of programs and scripts, which
// the forum never keeps.
var executableExts = map[string]bool{
	".exe": true, ".bat": true, ".cmd": true, ".com": true, ".scr": true, ".js": true, ".vbs": true,
	".msi": true, ".jar": true, ".ps1": true, ".sh": true, ".pif": true, ".cpl": true, ".dll": true,
	".vbe": true, ".jse": true, ".wsf": true, ".hta": true, ".lnk": true, ".msp": true, ".apk": true,
}

// executableTypes are media types of programs and scripts.
var executableTypes = map[string]bool{
	"application/x-msdownload": true, "application/x-msdos-program": true, "application/x-dosexec": true,
	"application/x-executable": true, "application/vnd.microsoft.portable-executable": true,
	"application/x-ms-installer": true, "application/x-msi": true, "application/java-archive": true,
	"application/x-java-archive": true, "application/x-sh": true, "application/x-csh": true, "text/x-sh": true,
	"application/x-bat": true, "application/bat": true, "application/javascript": true, "text/javascript": true,
	"application/x-javascript": true, "text/vbscript": true, "application/x-vbscript": true,
	"application/x-powershell": true, "application/hta": true, "application/vnd.android.package-archive": true,
}

// selectAttachments decides which of m's attachments are kept with the
// post made from it. Programs and scripts (by extension, media type or a
// Windows executable header), files over maxFile bytes and files past
// maxPost bytes in total are dropped; each dropped file yields a
// note line for the post body. Inline parts (cid: images) are kept with
// inline set when the HTML body refers to their Content-ID.
func selectAttachments(m *parse.Message, maxFile, maxPost int) (kept []keptAttachment, notes []string) {
	total := 0
	for i, a := range m.Attachments {
		ct := strings.ToLower(strings.TrimSpace(a.ContentType))
		if ct == "" {
			ct = "application/octet-stream"
		}
		name := attachmentName(a.Filename, ct, i+1)
		ext := strings.ToLower(path.Ext(name))
		switch {
		case executableExts[ext] || executableTypes[ct] || bytes.HasPrefix(a.Data, []byte("MZ")) && ct != "text/plain":
			notes = append(notes, dropNote(name, "programs and scripts are not accepted"))
			continue
		case len(a.Data) > maxFile:
			notes = append(notes, dropNote(name, fmt.Sprintf("it is larger than %s", mib(maxFile))))
			continue
		case total+len(a.Data) > maxPost:
			notes = append(notes, dropNote(name, fmt.Sprintf("the files of one message may not exceed %s", mib(maxPost))))
			continue
		}
		total += len(a.Data)
		inline := a.Inline && a.ContentID != "" && strings.Contains(m.HTML, "cid:"+a.ContentID)
		kept = append(kept, keptAttachment{filename: name, contentType: ct, contentID: a.ContentID, inline: inline, data: a.Data})
	}
	return kept, notes
}

func dropNote(name, reason string) string {
	return "[attachment " + name + " was not kept: " + reason + "]"
}

// attachmentName returns a safe file name: the sender's, without control
// characters or directories and at most 200 bytes, or "attachment-N" with
// an extension for the media type when there is none.
func attachmentName(name, ct string, n int) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	name = strings.Trim(name, ". ")
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name != "" {
		return name
	}
	name = fmt.Sprintf("attachment-%d", n)
	if ct == "message/rfc822" {
		return name + ".eml"
	}
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		return name + exts[0]
	}
	return name
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
		_, err := tx.Exec(ctx, `INSERT INTO attachments (post_id, filename, content_type, size, data, content_id, inline)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, postID, a.filename, a.contentType, len(a.data), a.data, a.contentID, a.inline)
		if err != nil {
			return fmt.Errorf("store attachment of post %d: %w", postID, err)
		}
	}
	return nil
}

// postAttachments returns the attachments of the posts of question id
// (the question included), by post id, in message order.
func (s *Store) postAttachments(ctx context.Context, questionID int64) (map[int64][]AttachmentInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.post_id, a.id, a.filename, a.content_type, a.size, a.inline
		FROM attachments a JOIN posts p ON p.id = a.post_id
		WHERE p.id = $1 OR p.question_id = $1 ORDER BY a.post_id, a.id`, questionID)
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
	err := s.pool.QueryRow(ctx, `SELECT a.id, a.filename, a.content_type, a.size, a.inline, a.data
		FROM attachments a JOIN posts p ON p.id = a.post_id
		WHERE a.id = $1 AND p.state IN ('visible', 'closed')`, id).Scan(&a.ID, &a.Filename, &a.ContentType, &a.Size, &a.Inline, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return AttachmentInfo{}, nil, fmt.Errorf("attachment %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return AttachmentInfo{}, nil, fmt.Errorf("load attachment %d: %w", id, err)
	}
	return a, data, nil
}

// mib formats a byte limit for people.
func mib(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
