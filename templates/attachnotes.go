package templates

import "fmt"

// Notes at the end of a post's body on what of its message was not kept,
// one a line, each in square brackets. Sizes are rendered by Size.

// NoteDroppedProgram: the file name was a program or a script.
func NoteDroppedProgram(name string) string {
	return dropped(name, "programs and scripts are not accepted")
}

// NoteDroppedArchivedProgram: the zip archive held a program or a
// script, member.
func NoteDroppedArchivedProgram(name, member string) string {
	return dropped(name, "it holds "+member+", and programs and scripts are not accepted, in archives either")
}

// NoteDroppedUnchecked: the zip archive could not be checked for programs
// (unreadable, encrypted, or archives nested too deeply).
func NoteDroppedUnchecked(name string) string {
	return dropped(name, "it is an archive that could not be checked for programs (unreadable, encrypted or nested too deeply)")
}

// NoteDroppedTooLarge: the file was over max bytes.
func NoteDroppedTooLarge(name string, max int) string {
	return dropped(name, "it is larger than "+Size(max))
}

// NoteDroppedOverTotal: the message's files were over max bytes in all.
func NoteDroppedOverTotal(name string, max int) string {
	return dropped(name, "the files of one message may not exceed "+Size(max))
}

func dropped(name, reason string) string {
	return "[attachment " + name + " was not kept: " + reason + "]"
}

// NoteTextTooLarge: the text, longer than a post keeps (kept bytes), was
// larger than a file may be (max) and its rest was not kept.
func NoteTextTooLarge(kept, max int) string {
	return fmt.Sprintf("%s; the rest was not kept: it is larger than %s]", longText(kept), Size(max))
}

// NoteTextOverTotal: the text's rest was over the message's files' limit
// (max bytes).
func NoteTextOverTotal(kept, max int) string {
	return fmt.Sprintf("%s; the rest was not kept: the files of one message may not exceed %s]", longText(kept), Size(max))
}

// NoteTextAttached: the whole text is in the attached file.
func NoteTextAttached(kept int, file string) string {
	return fmt.Sprintf("%s: all of it is in the attached file %s]", longText(kept), file)
}

func longText(kept int) string {
	return "[the text of this message is longer than " + Size(kept)
}

// NotePartsDropped ends the body of a post made from a message whose MIME
// parts were nested deeper (or were more) than the parser reads.
const NotePartsDropped = "[some parts of this message were not kept: they were nested too deeply or were too many to read]"

// Size formats a byte limit for people: "10 MiB", "64 KiB", "100 bytes".
func Size(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
