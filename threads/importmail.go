package threads

import "github.com/postern/postern/mailin/parse"

// This file exports, for the archive importer (package threads/importer),
// the decisions live processing takes on a parsed message. They read mail
// rather than store it: when the processing pipeline owns them, the
// importer calls them there and this file goes.

// KeptAttachment is an attachment of a message that is kept with the post
// made from it: the columns of its attachments row, size being len(Data).
type KeptAttachment struct {
	Filename, ContentType, ContentID string
	// Inline is set for an inline part the HTML body refers to (cid:).
	Inline bool
	Data   []byte
}

// SelectAttachments decides, as for live mail, which of m's attachments
// are kept: programs and scripts, files over maxFile bytes and files past
// maxPost bytes in total are dropped, each with a note line for the post
// body (see AppendNotes).
func SelectAttachments(m *parse.Message, maxFile, maxPost int) (kept []KeptAttachment, notes []string) {
	atts, notes := selectAttachments(m, maxFile, maxPost)
	for _, a := range atts {
		kept = append(kept, KeptAttachment{Filename: a.filename, ContentType: a.contentType, ContentID: a.contentID, Inline: a.inline, Data: a.data})
	}
	return kept, notes
}
