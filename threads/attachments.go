package threads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/unicode/norm"

	"github.com/postern/postern/mailin/parse"
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

// executableExts are file name extensions of programs, scripts, installers,
// shortcuts and disk images (which carry programs past the other checks),
// which the forum never keeps: the union of the types Gmail and Outlook
// block, less none.
var executableExts = setOf(
	// Windows programs, libraries, installers and packages.
	".exe", ".com", ".scr", ".pif", ".cpl", ".dll", ".sys", ".drv", ".ocx", ".vxd", ".xll", ".lib",
	".msi", ".msp", ".mst", ".msu", ".msix", ".msixbundle", ".appx", ".appxbundle", ".appinstaller",
	".application", ".appref-ms", ".gadget", ".xbap", ".cab", ".diagcab", ".diagcfg", ".diagpack",
	".ex", ".ex_", ".ins", ".isp", ".inf", ".reg", ".scf", ".msc", ".lnk", ".url", ".website", ".webpnp",
	".settingcontent-ms", ".library-ms", ".searchconnector-ms", ".printerexport", ".theme", ".themepack",
	".cnt", ".hlp", ".hpj", ".chm", ".its", ".grp", ".prf", ".pcd", ".shb", ".shs", ".xnk", ".vsmacros", ".vsw", ".wsb",
	// Scripts.
	".bat", ".cmd", ".js", ".jse", ".mjs", ".vb", ".vbe", ".vbs", ".vbp", ".wsf", ".wsh", ".wsc", ".ws",
	".sct", ".hta", ".htc", ".ps1", ".ps1xml", ".ps2", ".ps2xml", ".psc1", ".psc2", ".psd1", ".psm1", ".psdm1",
	".msh", ".msh1", ".msh2", ".mshxml", ".msh1xml", ".msh2xml", ".sh", ".bash", ".csh", ".ksh", ".command",
	".pl", ".py", ".pyc", ".pyo", ".pyw", ".pyz", ".pyzw", ".jar", ".jnlp", ".nsh", ".bas", ".fxp", ".prg",
	".ade", ".adp", ".mad", ".maf", ".mag", ".mam", ".maq", ".mar", ".mas", ".mat", ".mau", ".mav", ".maw",
	".mcf", ".mda", ".mdb", ".mde", ".mdt", ".mdw", ".mdz", ".ops", ".osd", ".plg",
	// Disk images, which Windows and macOS open as drives.
	".iso", ".img", ".vhd", ".vhdx", ".dmg",
	// Other platforms' installers.
	".apk", ".app", ".pkg", ".deb", ".rpm",
)

func setOf(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

// executableTypes are media types of programs, scripts, installers and
// disk images.
var executableTypes = setOf(
	"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
	"application/x-executable", "application/vnd.microsoft.portable-executable",
	"application/x-ms-installer", "application/x-msi", "application/java-archive",
	"application/x-java-archive", "application/x-java-jnlp-file", "application/x-sh", "application/x-csh", "text/x-sh",
	"application/x-bat", "application/bat", "application/javascript", "text/javascript",
	"application/x-javascript", "text/vbscript", "application/x-vbscript",
	"application/x-powershell", "application/hta", "application/vnd.android.package-archive",
	"application/x-ms-shortcut", "application/internet-shortcut", "application/x-url", "application/vnd.ms-htmlhelp",
	"application/x-iso9660-image", "application/x-cd-image", "application/x-raw-disk-image",
	"application/x-apple-diskimage", "application/x-python-code", "text/x-python", "application/x-perl",
	"application/appx", "application/msix", "application/vnd.ms-appx", "application/x-ms-application",
)

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
		switch {
		case dangerousName(name) || executableTypes[ct] || bytes.HasPrefix(a.Data, []byte("MZ")) && ct != "text/plain":
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

// attachmentName returns a safe file name: the sender's, normalised
// (normalizeFilename) and at most 200 bytes, or "attachment-N" with an
// extension for the media type when nothing is left of it.
func attachmentName(name, ct string, n int) string {
	name = normalizeFilename(name)
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	name = strings.TrimRightFunc(name, trailingJunk)
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

// normalizeFilename returns name as it is judged and stored: in Unicode
// NFC, without control and format characters (zero-width spaces and
// joiners, the byte-order mark, soft hyphens and the bidirectional
// controls such as U+202E RIGHT-TO-LEFT OVERRIDE, which make
// "x\u202Efdp.exe" look like "xexe.pdf"), without directory separators,
// and without the leading and trailing dots and white space that Windows
// ignores when it opens "run.exe. " as run.exe.
func normalizeFilename(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\':
			return -1
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r),
			unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			return -1
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, name)
	name = norm.NFC.String(name)
	name = strings.TrimLeftFunc(name, trailingJunk)
	return strings.TrimRightFunc(name, trailingJunk)
}

// trailingJunk reports the characters trimmed from both ends of a file
// name: white space and dots.
func trailingJunk(r rune) bool { return r == '.' || unicode.IsSpace(r) }

// dangerousName reports whether name (normalised) has the extension of a
// program, script or disk image. Full-width and other compatibility forms
// of the letters count as the letters (NFKC), and so does the extension of
// a name ending in an NTFS stream suffix ("x.exe::$DATA", "x.exe:zone").
func dangerousName(name string) bool {
	name = strings.ToLower(norm.NFKC.String(name))
	if i := strings.IndexByte(name, ':'); i >= 0 {
		if executableExts[path.Ext(strings.TrimRightFunc(name[:i], trailingJunk))] {
			return true
		}
	}
	return executableExts[path.Ext(name)]
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
		long := fmt.Sprintf("[the text of this message is longer than %s", mib(MaxPostTextBytes))
		switch {
		case len(body) > maxFile:
			notes = append(notes, fmt.Sprintf("%s; the rest was not kept: it is larger than %s]", long, mib(maxFile)))
		case len(body) > maxPost:
			notes = append(notes, fmt.Sprintf("%s; the rest was not kept: the files of one message may not exceed %s]", long, mib(maxPost)))
		default:
			kept = append(kept, keptAttachment{filename: fullTextName, contentType: "text/plain", data: []byte(body)})
			maxPost -= len(body)
			notes = append(notes, fmt.Sprintf("%s: all of it is in the attached file %s]", long, fullTextName))
		}
	}
	files, dropped := selectAttachments(m, maxFile, maxPost)
	kept = append(kept, files...)
	notes = append(notes, dropped...)
	if m.PartsDropped {
		notes = append(notes, partsDroppedNote)
	}
	return appendNotes(short, notes), elided, kept
}

// partsDroppedNote ends the body of a post made from a message whose MIME
// parts were nested deeper (or were more) than the parser reads.
const partsDroppedNote = "[some parts of this message were not kept: they were nested too deeply or were too many to read]"

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
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
