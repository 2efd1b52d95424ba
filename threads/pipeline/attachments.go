package pipeline

import (
	"strings"
	"unicode/utf8"

	"github.com/postern/postern/mailin/attach"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// SelectAttachments decides which of m's attachments are kept with the
// post made from it (attach.Select: programs, archives holding one, files
// over maxFile bytes and past maxPost bytes in total are dropped); each
// dropped file yields a note line for the post body.
func SelectAttachments(m *parse.Message, maxFile, maxPost int) (kept []threads.KeptAttachment, notes []string) {
	files, dropped := attach.Select(m, maxFile, maxPost)
	for _, d := range dropped {
		notes = append(notes, droppedNote(d, maxFile, maxPost))
	}
	for _, f := range files {
		kept = append(kept, threads.KeptAttachment{Filename: f.Filename, ContentType: f.ContentType, ContentID: f.ContentID, Inline: f.Inline, Data: f.Data})
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

// fullTextName is the attachment holding the whole of a too long text.
const fullTextName = "message.txt"

// postContent returns what a post made of m keeps: its body (cut to
// threads.MaxPostTextBytes, with the notes on what was cut or dropped), its
// elided quote (cut too) and the attachments to store, first message.txt
// with the whole text when it was cut.
func postContent(m *parse.Message, body, elided string, maxFile, maxPost int) (string, string, []threads.KeptAttachment) {
	elided, _ = capText(elided, threads.MaxPostTextBytes)
	short, cut := capText(body, threads.MaxPostTextBytes)
	var kept []threads.KeptAttachment
	var notes []string
	if cut {
		switch {
		case len(body) > maxFile:
			notes = append(notes, templates.NoteTextTooLarge(threads.MaxPostTextBytes, maxFile))
		case len(body) > maxPost:
			notes = append(notes, templates.NoteTextOverTotal(threads.MaxPostTextBytes, maxPost))
		default:
			kept = append(kept, threads.KeptAttachment{Filename: fullTextName, ContentType: "text/plain", Data: []byte(body)})
			maxPost -= len(body)
			notes = append(notes, templates.NoteTextAttached(threads.MaxPostTextBytes, fullTextName))
		}
	}
	files, dropped := SelectAttachments(m, maxFile, maxPost)
	kept = append(kept, files...)
	notes = append(notes, dropped...)
	if m.PartsDropped {
		notes = append(notes, templates.NotePartsDropped)
	}
	return threads.AppendNotes(short, notes), elided, kept
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
